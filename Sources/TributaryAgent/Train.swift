import Agent
import Federation
import Recording
import SystemSupport
import TributaryWire

/// `tributary-agent train`: a task's pipeline on recordings, offline.
struct Train {
    static let spec = Options.Spec(
        options: [
            ("recording", "file", "A recording (repeatable)."),
            ("task", "file", "The task: a specification (JSON) or an aggregator configuration (YAML)."),
            ("holdout-every", "n", "Hold out every Nth window (default 5)."),
        ],
        flags: [], repeatable: ["recording"])

    static let help = Options.help(
        usage: "tributary-agent train --task <file> --recording <file> [--recording <file> ...] [--holdout-every <n>]",
        abstract: "Run a task's pipeline on recordings, offline: windows, features, the online model, metrics.",
        discussion: """
            The task is a specification as the aggregator publishes it (JSON), or an aggregator configuration \
            (YAML; its task section). Each recording's first stream with a label channel is used, in order, as \
            one continuous stream. Prints prequential accuracy (each window predicted before it is learned) and \
            hold-out accuracy (every --holdout-every window, never learned).
            """, spec: spec)

    let recordings: [String]
    let task: String
    let holdoutEvery: Int

    init(_ arguments: ArraySlice<String>) throws(UsageError) {
        let options = try Options(arguments, spec: Self.spec)
        recordings = options.all("recording")
        guard !recordings.isEmpty else { throw UsageError("give at least one --recording") }
        guard let task = options["task"] else { throw UsageError("--task is required") }
        self.task = task
        holdoutEvery = try options.integer("holdout-every", default: 5)
        guard holdoutEvery >= 0 else { throw UsageError("--holdout-every must be ≥ 0") }
    }

    /// Runs; the exit code (64 bad task, 2 unreadable recording, 3 no usable stream).
    func run() -> Int32 {
        do { return try train() } catch {
            printError("tributary-agent: \(error)")
            return 2
        }
    }

    func train() throws -> Int32 {
        let spec: TaskSpec
        do { spec = try TaskFile.load(task) } catch {
            printError("tributary-agent: \(task): \(error)")
            return 64
        }
        let first: RecordingReader
        do { first = try RecordingReader(path: recordings[0]) } catch {
            printError("tributary-agent: \(error)")
            return 2
        }
        guard let stream = first.streams.first else { return 3 }
        let core = try AgentCore(
            device: "offline", channels: stream.channels, ringFrames: 4_096, holdoutEvery: holdoutEvery,
            bufferCapacity: 1, backpressure: true)
        do { try core.configure(spec) } catch {
            printError("tributary-agent: the task does not fit \(recordings[0]): \(error)")
            return 64
        }
        var ingest = core.makeIngest(maxBytes: 1 << 20)
        let started = ContinuousClock.now
        for path in recordings {
            let reader: RecordingReader
            do { reader = try RecordingReader(path: path) } catch {
                printError("tributary-agent: \(error)")
                return 2
            }
            guard let s = reader.streams.first(where: { $0.channels == stream.channels }) else {
                printError("tributary-agent: \(path) has no \(stream.channels)-channel stream")
                return 3
            }
            for chunk in reader.frameChunks(stream: s.id) {
                let (timestamps, values) = try reader.frames(chunk)
                timestamps.withUnsafeBufferPointer { t in
                    values.withUnsafeBufferPointer { v in
                        // Offline: nothing is dropped; a full ring is drained by the pipeline, then filled on.
                        _ = ingest.ingest(timestamps: t, values: v) {
                            core.process()
                            return true
                        }
                    }
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
        print("ingest               \(core.ingest.snapshot.summary)")
        print("prequential accuracy \(format(accuracy?.prequential ?? 0))")
        print("hold-out accuracy    \(format(accuracy?.holdout ?? 0)) (every \(holdoutEvery)th window)")
        return 0
    }

    func format(_ v: Double) -> String { fixedDecimal(v, digits: 4) }
}
