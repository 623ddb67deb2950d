public import Recording
import SensorFrames
public import SimulatorCore
import TributaryWire

/// Writes a recording of a simulated device (`tributary-replay generate`, `tributary-sim`'s profiles): the simulator's sensor models and
/// faults, deterministic for a seed, as fast as the disk takes it. Useful for demos, benchmarks and tests.
public struct SyntheticRecording {
    /// The simulator profile (sensor, rate, batch size, format, labels, seed, faults).
    public var profile: SimProfile
    /// Which device of the profile (its seed stream).
    public var deviceIndex = 0
    /// Seconds of device time to write.
    public var seconds: Double
    /// Frames per chunk.
    public var chunkFrames = 8_192
    /// When chunks are forced to disk.
    public var sync = RecordingWriter.SyncPolicy.never
    /// zstd level.
    public var compressionLevel = 6

    /// Creates a generator.
    public init(profile: SimProfile, seconds: Double) {
        self.profile = profile
        self.seconds = seconds
    }

    /// Writes `path`; `progress` gets frames written and the total. Returns frames written.
    @discardableResult
    public func write(to path: String, progress: (Int, Int?) -> Void = { _, _ in }) throws(RecordingError) -> Int {
        var device = profile.makeDevice(deviceIndex)
        var mode = RecordingSampleMode.float32
        if case .int16(let scales) = device.format { mode = .int16(scales: scales) }
        let stream = RecordingStream(
            id: 0, device: device.id, name: profile.stream, channelNames: device.channelNames,
            units: device.channelUnits, sampleRate: profile.rateHz, mode: mode,
            labelNames: profile.labels ? device.labelNames : [],
            tags: ["generator": "tributary-sim", "sensor": profile.sensor.rawValue, "seed": String(profile.seed)])
        let writer: RecordingWriter
        writer = try RecordingWriter(
            path: path, streams: [stream], chunkFrames: chunkFrames, sync: sync, compressionLevel: compressionLevel)
        let total = Int((seconds * profile.rateHz).rounded())
        var written = 0
        var lastReport = 0
        while written < total {
            // A batch the device lost (drop-out, reboot) is absent from the recording too, as on a real link.
            guard let batch = device.nextBatch() else { continue }
            let decoded: (header: SensorBatch.Header, timestamps: [Int64], values: [Float])
            let parsed = batch.payload.withUnsafeBytes { bytes in
                Result { () throws(WireError) in try SensorBatch.decode(bytes) }
            }
            switch parsed {
            case .success(let value): decoded = value
            case .failure(let error):
                throw RecordingError(
                    .invalidArgument, "the simulator produced an invalid batch", path: path, wire: error)
            }
            let frames = min(decoded.timestamps.count, total - written)
            try decoded.timestamps.withUnsafeBufferPointer { t throws(RecordingError) in
                try decoded.values.withUnsafeBufferPointer { v throws(RecordingError) in
                    try writer.append(
                        stream: 0, timestamps: UnsafeBufferPointer(rebasing: t[..<frames]),
                        values: UnsafeBufferPointer(rebasing: v[..<(frames * device.channels)]))
                }
            }
            written += frames
            if written - lastReport >= 100_000 {
                lastReport = written
                progress(written, total)
            }
        }
        try writer.close()
        progress(written, total)
        return written
    }
}
