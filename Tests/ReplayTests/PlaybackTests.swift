import BrokerConnection
import Glibc
import Logging
import MQTT
import Recording
import SensorFrames
import Testing
import TributaryTestSupport

@testable import Replay

@Suite(.serialized) struct PlaybackTests {
    static let logger = Logger(label: "test.replay")

    /// Records everything under the default prefix into `directory` while `body` runs, until `frames` frames
    /// arrived; returns the recorder's counters.
    static func recording(
        _ broker: MosquittoBroker, into target: RecordTarget, frames: Int, options: RecordOptions = RecordOptions(),
        _ body: () async throws -> Void
    ) async throws -> RecordStats {
        let recorder = Recorder(target: target, options: options, logger: logger)
        let client = try await broker.connectedClient("recorder")
        try await recorder.attach(to: client)
        try await body()
        let arrived = await eventually(timeout: .seconds(30)) { recorder.stats.frames >= frames }
        #expect(arrived, "recorded \(recorder.stats.frames) of \(frames) frames")
        await client.disconnect()
        return try recorder.finish()
    }

    static func play(_ broker: MosquittoBroker, _ assignments: [PlaybackAssignment], options: PlaybackOptions)
        async throws -> PlaybackStats
    {
        let player = try Player(assignments, options: options)
        let client = try await broker.connectedClient("player")
        let stats = try await player.run(client: client, clock: ContinuousClock())
        await client.disconnect()
        return stats
    }

    static var fast: PlaybackOptions {
        var options = PlaybackOptions()
        options.speed = nil
        options.batchFrames = 37
        return options
    }

    @Test("record → play → record gives the same samples and labels, twice over")
    func recordPlayRecord() async throws {
        let directory = temporaryDirectory()
        let original = directory + "/original.trec"
        let frames = try simulatedRecording(original, seconds: 30, rate: 100)
        let source = try RecordingReader(path: original)
        let expected = try source.frames(stream: 0)
        var recordOptions = RecordOptions()
        recordOptions.channelNames = source.streams[0].channelNames
        recordOptions.labelNames = source.streams[0].labelNames
        recordOptions.chunkFrames = 500
        try await withBroker { broker in
            var input = original
            for generation in 1...2 {
                let out = directory + "/gen\(generation)"
                _ = mkdir(out, 0o755)
                let stats = try await Self.recording(
                    broker, into: .directory(out), frames: frames, options: recordOptions
                ) {
                    let played = try await Self.play(broker, [PlaybackAssignment(path: input)], options: Self.fast)
                    #expect(played.frames == frames)
                }
                #expect(
                    stats.frames == frames && stats.rejected == 0 && stats.duplicates == 0 && stats.missing == 0,
                    "\(stats)")
                let path = out + "/sim-0001.imu.trec"
                let copy = try RecordingReader(path: path)
                #expect(!copy.recovered)
                #expect(copy.streams[0].channelNames == source.streams[0].channelNames)
                #expect(copy.streams[0].labelNames == source.streams[0].labelNames)
                #expect(copy.streams[0].sampleRate == 100)
                let got = try copy.frames(stream: 0)
                #expect(got.timestamps.count == expected.timestamps.count)
                #expect(got.timestamps == expected.timestamps, "time stamps differ")
                expectSameBits(got.values, expected.values)
                input = path
            }
        }
    }

    @Test("many recordings onto many device ids, looped, with time that keeps increasing")
    func fleetAndLoops() async throws {
        let directory = temporaryDirectory()
        try simulatedRecording(directory + "/a.trec", seconds: 2, rate: 50, seed: 1)
        try simulatedRecording(directory + "/b.trec", seconds: 3, rate: 50, seed: 2)
        var options = Self.fast
        options.loops = 2
        let assignments = PlaybackAssignment.fleet(
            paths: [directory + "/a.trec", directory + "/b.trec"], count: 3, template: "unit-{n}")
        #expect(assignments.map(\.device) == ["unit-1", "unit-2", "unit-3"])
        let total = 2 * (100 + 150 + 100)
        try await withBroker { broker in
            let stats = try await Self.recording(broker, into: .file(directory + "/all.trec"), frames: total) {
                let played = try await Self.play(broker, assignments, options: options)
                #expect(played.frames == total)
            }
            #expect(stats.streams == 3)
        }
        let all = try RecordingReader(path: directory + "/all.trec")
        #expect(Set(all.streams.map(\.device)) == ["unit-1", "unit-2", "unit-3"])
        for stream in all.streams {
            let frames = try all.frames(stream: stream.id)
            let single = stream.device == "unit-2" ? 150 : 100
            #expect(frames.timestamps.count == 2 * single)
            #expect(zip(frames.timestamps, frames.timestamps.dropFirst()).allSatisfy { $0 < $1 })
            // The second loop is the first shifted by the span plus one period (20 ms at 50 Hz).
            let shift = frames.timestamps[single] - frames.timestamps[0]
            #expect(shift == frames.timestamps[single - 1] - frames.timestamps[0] + 20_000_000)
            expectSameBits(
                Array(frames.values[0..<(single * stream.channels)]),
                Array(frames.values[(single * stream.channels)...]))
        }
    }

    @Test("paced playback over a real broker with an injected clock: every batch on time plus one oversleep")
    func pacedWithInjectedClock() async throws {
        let directory = temporaryDirectory()
        try simulatedRecording(directory + "/a.trec", seconds: 10, rate: 50)
        var options = PlaybackOptions()
        options.speed = 2
        options.batchFrames = 5  // 100 ms of data, due every 50 ms at ×2
        let clock = OversleepingClock(oversleep: .milliseconds(7))
        try await withBroker { broker in
            let player = try Player([PlaybackAssignment(path: directory + "/a.trec")], options: options)
            let client = try await broker.connectedClient("player")
            let stats = try await player.run(client: client, clock: clock)
            await client.disconnect()
            #expect(stats.frames == 500 && stats.batches == 100)
            #expect(stats.worstLag <= .milliseconds(7))
            // The last batch ends at 9.98 s of data: due at 4.99 s at ×2, published one oversleep later.
            #expect(clock.now.offset == .milliseconds(4_990 + 7))
            #expect(clock.sleeps.withLock { $0 } == 100)
        }
    }

    @Test("label events can be played as a label channel")
    func labelEventsAsChannel() async throws {
        let directory = temporaryDirectory()
        let path = directory + "/events.trec"
        let stream = RecordingStream(
            device: "d1", name: "vib", channelNames: ["x"], sampleRate: 10,
            labelNames: ["ok", "fault"])
        let writer = try RecordingWriter(path: path, streams: [stream])
        let timestamps = (0..<100).map { Int64($0) * 100_000_000 }
        let values = (0..<100).map { Float($0) }
        try timestamps.withUnsafeBufferPointer { t in
            try values.withUnsafeBufferPointer { v in try writer.append(stream: 0, timestamps: t, values: v) }
        }
        try writer.append(label: LabelEvent(start: 1_000_000_000, end: 3_000_000_000, label: 1), stream: 0)
        try writer.append(label: LabelEvent(start: 5_000_000_000, end: 6_000_000_000, label: 0), stream: 0)
        try writer.close()
        var options = Self.fast
        options.labelEventsAsChannel = true
        try await withBroker { broker in
            _ = try await Self.recording(broker, into: .file(directory + "/out.trec"), frames: 100) {
                _ = try await Self.play(broker, [PlaybackAssignment(path: path)], options: options)
            }
        }
        let got = try RecordingReader(path: directory + "/out.trec").frames(stream: 0).values
        for i in 0..<100 {
            #expect(got[2 * i] == Float(i))
            let expected: Float = (10..<30).contains(i) ? 1 : (50..<60).contains(i) ? 0 : -1
            #expect(got[2 * i + 1] == expected, "frame \(i)")
        }
    }

    @Test("the recorder counts and logs bad messages and redeliveries, and keeps recording")
    func recorderRejects() async throws {
        let directory = temporaryDirectory()
        try await withBroker { broker in
            let stats = try await Self.recording(broker, into: .directory(directory), frames: 20) {
                let client = try await broker.connectedClient("device")
                let topic = "tributary/v1/dev/d7/sensor/temp"
                try await client.publishConfirmed(topic, payload: Array("not a batch".utf8))
                let batch = SensorBatch.encode(
                    sequence: 5, channels: 2, values: (0..<20).map(Float.init), base: 0, timing: .fixedPeriod(1_000))
                try await client.publishConfirmed(topic, payload: batch)
                try await client.publishConfirmed(topic, payload: batch)  // a redelivery
                let next = SensorBatch.encode(
                    sequence: 6, channels: 2, values: (20..<40).map(Float.init), base: 10_000,
                    timing: .fixedPeriod(1_000))
                try await client.publishConfirmed(topic, payload: next)
                await client.disconnect()
            }
            #expect(stats.rejected == 1)
            #expect(stats.duplicates == 1)
            #expect(stats.frames == 20 && stats.batches == 2)
        }
        let reader = try RecordingReader(path: directory + "/d7.temp.trec")
        #expect(reader.streams[0].sampleRate == 1e6)
        #expect(try reader.frames(stream: 0).values == (0..<40).map(Float.init))
    }

    @Test("an unreachable broker is a broker error with exit code 4")
    func unreachable() async throws {
        let port = try FreePort.pick()
        let endpoint = BrokerSettings(host: "127.0.0.1", port: port)
        await #expect { try await endpoint.connect(clientID: "x", logger: Self.logger) } throws: { error in
            (error as? ReplayError)?.kind == .broker && (error as? ReplayError)?.exitCode == 4
        }
    }
}
