import Foundation
import Testing
import TributaryWire
import Zstd

@testable import Recording

/// The committed recording `Fixtures/small.trec` (specified in docs/recording-format.md) must read back as the
/// content below, and its chunks' decompressed payloads must be exactly what the codec writes for that content
/// today (compressed bytes may differ between zstd versions; the layout under them may not).
/// `TRIBUTARY_WRITE_FIXTURES=1 swift test --filter RecordingTests.FixtureTests` rewrites it after a deliberate
/// format change.
@Suite struct FixtureTests {
    static var path: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/small.trec").path
    }

    static let imu = RecordingStream(
        id: 0, device: "watch-01", name: "imu", channelNames: ["ax", "ay", "gz", "label"],
        units: ["g", "g", "rad/s", ""], sampleRate: 50, labelNames: ["rest", "walk"], tags: ["subject": "3"])
    static let temperature = RecordingStream(
        id: 1, device: "pump-7", name: "temp", channelNames: ["t"], units: ["°C"], sampleRate: 0,
        mode: .int16(scales: [0.01]))

    /// 300 IMU frames at 50 Hz: ax with three decimals, ay arbitrary floats (with -0 and NaN), gz with two decimals,
    /// and a label channel.
    static var imuFrames: (timestamps: [Int64], values: [Float]) {
        var values: [Float] = []
        for i in 0..<300 {
            let ax = Float(Double((i * 37) % 2_001 - 1_000) / 1_000)
            var ay = Float(sin(Double(i) * 0.1)) * 0.987_654_3
            if i == 7 { ay = -0.0 }
            if i == 8 { ay = .nan }
            let gz = Float(Double(i % 100 - 50) / 100)
            values += [ax, ay, gz, i < 150 ? 0 : 1]
        }
        return ((0..<300).map { 1_700_000_000_000_000_000 + Int64($0) * 20_000_000 }, values)
    }

    /// 40 temperatures at irregular times, on the 0.01 grid.
    static var temperatureFrames: (timestamps: [Int64], values: [Float]) {
        var t: Int64 = 5_000
        var timestamps: [Int64] = []
        for i in 0..<40 {
            t += Int64(1_000_000 + (i * 7_919) % 50_000)
            timestamps.append(t)
        }
        return (timestamps, (0..<40).map { Float(2_000 + ($0 * 13) % 700) * 0.01 })
    }

    static let events = [
        LabelEvent(start: 1_700_000_000_000_000_000, end: 1_700_000_003_000_000_000, label: 0),
        LabelEvent(start: 1_700_000_003_000_000_000, end: 1_700_000_006_000_000_000, label: 1),
    ]

    static func write(_ path: String) throws {
        let writer = try RecordingWriter(
            path: path, streams: [imu], chunkFrames: 256, sync: .never, compressionLevel: 19)
        let frames = imuFrames
        try append(writer, stream: 0, frames.timestamps, frames.values)
        try writer.addStream(temperature)
        let temps = temperatureFrames
        try append(writer, stream: 1, temps.timestamps, temps.values)
        for event in events { try writer.append(label: event, stream: 0) }
        try writer.close()
    }

    @Test("the committed fixture reads back as its content, with the layout the codec writes today")
    func fixture() throws {
        if ProcessInfo.processInfo.environment["TRIBUTARY_WRITE_FIXTURES"] == "1" { try Self.write(Self.path) }
        let reader = try RecordingReader(path: Self.path)
        #expect(!reader.recovered)
        #expect(reader.streams == [Self.imu, Self.temperature])
        #expect(reader.chunks.map(\.kind) == [.frames, .stream, .frames, .labels, .frames])
        #expect(reader.chunks.map(\.count) == [256, 1, 44, 2, 40])
        let imu = try reader.frames(stream: 0)
        #expect(imu.timestamps == Self.imuFrames.timestamps)
        expectSameBits(imu.values, Self.imuFrames.values)
        let temps = try reader.frames(stream: 1)
        #expect(temps.timestamps == Self.temperatureFrames.timestamps)
        expectSameBits(temps.values, Self.temperatureFrames.values.map { (($0 / 0.01).rounded()) * 0.01 })
        #expect(try reader.labels(stream: 0) == Self.events)

        // Under zstd, each frame chunk is byte for byte what the codec writes for its frames.
        let all = Self.imuFrames
        let expected = [
            ChunkCodec.encodeFrames(
                timestamps: Array(all.timestamps[..<256]), values: Array(all.values[..<1_024]), stream: Self.imu),
            ChunkCodec.encodeFrames(
                timestamps: Array(all.timestamps[256...]), values: Array(all.values[1_024...]), stream: Self.imu),
            ChunkCodec.encodeFrames(
                timestamps: Self.temperatureFrames.timestamps, values: Self.temperatureFrames.values,
                stream: Self.temperature),
        ]
        let payloads = try reader.chunks.filter { $0.kind == .frames }.map { try reader.payload($0) }
        #expect(payloads == expected)
    }
}
