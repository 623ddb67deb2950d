import CSVCodec
import Glibc
import MQTT
import Recording
import SensorFrames
import Simulator
import SimulatorCore
import Testing
import TributaryTestSupport

@testable import Replay

/// The `tributary-replay` binary as users run it: killed, signalled, and given bad input.
@Suite(.serialized) struct ProcessTests {
    static let tool = builtExecutable("tributary-replay")

    static func run(_ arguments: [String], output: String? = nil) async throws -> Int32? {
        let process = try ChildProcess(Self.tool, arguments, standardOutput: output)
        return await process.waitForExit(timeout: .seconds(60))
    }

    @Test("the binary is built next to the tests")
    func binaryExists() {
        #expect(access(Self.tool, X_OK) == 0, "\(Self.tool) is missing: run 'swift build' first")
    }

    @Test("kill -9 while writing leaves a file readable up to its last complete chunk, with the right samples")
    func killedWriter() async throws {
        let directory = temporaryDirectory()
        let path = directory + "/killed.trec"
        // A long recording written chunk by chunk with fsync; killed once a few chunks are on disk.
        let process = try ChildProcess(
            Self.tool,
            [
                "generate", path, "--seconds", "100000", "--rate", "1000", "--chunk-frames", "512",
                "--sync-every-chunk",
            ])
        let grew = await eventually(timeout: .seconds(30)) { fileSize(path) > 40_000 }
        #expect(grew)
        process.send(SIGKILL)
        #expect(await process.waitForExit(timeout: .seconds(10)) != nil)

        let reader = try RecordingReader(path: path)
        #expect(reader.recovered)
        let frames = reader.frameCount(stream: 0)
        #expect(frames > 0 && frames % 512 == 0)
        #expect(reader.chunks.filter { $0.kind == .frames }.allSatisfy { $0.count == 512 })
        // The same profile regenerated in-process gives the same samples (the simulator is deterministic).
        var profile = SimProfile()
        profile.rateHz = 1_000
        var generator = SyntheticRecording(profile: profile, seconds: Double(frames) / 1_000)
        generator.chunkFrames = 512
        try generator.write(to: directory + "/again.trec")
        let again = try RecordingReader(path: directory + "/again.trec").frames(stream: 0)
        let got = try reader.frames(stream: 0)
        #expect(got.timestamps == again.timestamps)
        expectSameBits(got.values, again.values)
    }

    @Test("record stops on SIGTERM and closes its file cleanly, with every frame it acknowledged")
    func recordSigterm() async throws {
        let directory = temporaryDirectory()
        let path = directory + "/rec.trec"
        try await withBroker { broker in
            let log = directory + "/record.log"
            let process = try ChildProcess(
                Self.tool, ["record", "--broker", "127.0.0.1:\(broker.port)", "--file", path], standardOutput: log)
            #expect(await eventually(timeout: .seconds(20)) { readText(log).contains("recording tributary/v1") })
            let client = try await broker.connectedClient("device")
            for n in 0..<50 {
                let batch = SensorBatch.encode(
                    sequence: UInt32(n), channels: 3, values: (0..<30).map { Float(n * 30 + $0) },
                    base: Int64(n) * 10_000, timing: .fixedPeriod(1_000))
                try await client.publishConfirmed("tributary/v1/dev/dev-9/sensor/imu", payload: batch)
            }
            await client.disconnect()
            // The batches are acknowledged by the broker; give the recorder a moment to have them.
            #expect(await eventually(timeout: .seconds(10)) { readText(log).contains("new stream dev-9/imu") })
            try await Task.sleep(for: .milliseconds(500))
            process.send(SIGTERM)
            #expect(await process.waitForExit(timeout: .seconds(20)) == 0)
            #expect(readText(log).contains("500 frames in 50 batches"))
        }
        let reader = try RecordingReader(path: path)
        #expect(!reader.recovered)
        #expect(try reader.frames(stream: 0).values == (0..<1_500).map(Float.init))
    }

    @Test("clear exit codes: missing file 2, corrupt file 3, unreachable broker 4, bad arguments 64")
    func exitCodes() async throws {
        let directory = temporaryDirectory()
        writeText("not a recording at all", to: directory + "/junk.trec")
        try simulatedRecording(directory + "/ok.trec", seconds: 1, rate: 10)
        let port = try FreePort.pick()
        #expect(try await Self.run(["inspect", directory + "/missing.trec"]) == 2)
        #expect(try await Self.run(["inspect", directory + "/junk.trec"]) == 3)
        #expect(try await Self.run(["play", "--broker", "127.0.0.1:\(port)", directory + "/ok.trec"]) == 4)
        #expect(try await Self.run(["play", "--speed", "-1", directory + "/ok.trec"]) == 64)
        let out = directory + "/inspect.txt"
        #expect(try await Self.run(["inspect", directory + "/ok.trec"], output: out) == 0)
        #expect(readText(out).contains("frames      10 in 1 chunks"))
    }
}
