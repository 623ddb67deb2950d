import Agent
import ArgumentParser
import Federation
import Foundation
import Recording

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a task's pipeline on recordings, offline: windows, features, the online model, metrics.",
        discussion: """
            The task is a specification as the aggregator publishes it (JSON), or an aggregator configuration \
            (YAML; its task section). Each recording's first stream with a label channel is used, in order, as \
            one continuous stream. Prints prequential accuracy (each window predicted before it is learned) and \
            hold-out accuracy (every --holdout-every window, never learned).
            """)

    @Option(name: .customLong("recording"), help: "A recording (repeatable).")
    var recordings: [String]

    @Option(help: "The task: a specification (JSON) or an aggregator configuration (YAML).")
    var task: String

    @Option(help: "Hold out every Nth window.")
    var holdoutEvery = 5

    func validate() throws {
        guard !recordings.isEmpty else { throw ValidationError("give at least one --recording") }
        guard holdoutEvery >= 0 else { throw ValidationError("--holdout-every must be ≥ 0") }
    }

    func run() throws {
        let spec: TaskSpec
        do { spec = try TaskFile.load(task) } catch {
            FileHandle.standardError.write(Data("tributary-agent: \(task): \(error)\n".utf8))
            throw ExitCode(64)
        }
        let first: RecordingReader
        do { first = try RecordingReader(path: recordings[0]) } catch {
            FileHandle.standardError.write(Data("tributary-agent: \(error)\n".utf8))
            throw ExitCode(2)
        }
        guard let stream = first.streams.first else { throw ExitCode(3) }
        let core = try AgentCore(
            device: "offline", channels: stream.channels, ringFrames: 4_096, holdoutEvery: holdoutEvery,
            bufferCapacity: 1, backpressure: true)
        do { try core.configure(spec) } catch {
            FileHandle.standardError.write(
                Data("tributary-agent: the task does not fit \(recordings[0]): \(error)\n".utf8))
            throw ExitCode(64)
        }
        var producer = core.ring.makeProducer()
        let started = ContinuousClock.now
        for path in recordings {
            let reader: RecordingReader
            do { reader = try RecordingReader(path: path) } catch {
                FileHandle.standardError.write(Data("tributary-agent: \(error)\n".utf8))
                throw ExitCode(2)
            }
            guard let s = reader.streams.first(where: { $0.channels == stream.channels }) else {
                FileHandle.standardError.write(
                    Data("tributary-agent: \(path) has no \(stream.channels)-channel stream\n".utf8))
                throw ExitCode(3)
            }
            for chunk in reader.frameChunks(stream: s.id) {
                let (timestamps, values) = try reader.frames(chunk)
                var i = 0
                while i < timestamps.count {
                    let pushed = values.withUnsafeBufferPointer { v in
                        producer.push(
                            timestamp: timestamps[i],
                            values: UnsafeBufferPointer(rebasing: v[(i * s.channels)..<((i + 1) * s.channels)]))
                    }
                    if pushed { i += 1 } else { core.process() }
                }
                core.process()
            }
        }
        core.process()
        let elapsed = ContinuousClock.now - started
        let accuracy = core.localAccuracy
        print(
            "windows \(core.counters.windows) (\(core.counters.unlabelled) unlabelled) from \(core.counters.frames) frames in \(elapsed)"
        )
        print("prequential accuracy \(format(accuracy?.prequential ?? 0))")
        print("hold-out accuracy    \(format(accuracy?.holdout ?? 0)) (every \(holdoutEvery)th window)")
    }

    func format(_ v: Double) -> String { String(format: "%.4f", v) }
}
