import TributaryWire

/// The binary batch format of the sensor topics (`{prefix}/dev/{device}/sensor/{stream}`): N frames of C channels
/// with their time stamps, as firmware, the simulator and the replay tool publish them.
///
/// Layout (little-endian; specified with a test vector in `docs/wire-format.md`):
///
/// | offset | size | field |
/// |---|---|---|
/// | 0 | 4 | magic `TSFB` |
/// | 4 | 1 | version (1) |
/// | 5 | 1 | message type (0x10) |
/// | 6 | 1 | flags: bit 0 = fixed sample period (else per-sample deltas); other bits 0 |
/// | 7 | 1 | sample format: 0 = float32, 1 = int16 with a per-channel scale |
/// | 8 | 4 | sequence number (u32, wraps) |
/// | 12 | 2 | channel count C (1…``maxChannels``) |
/// | 14 | 2 | frame count N (1…65535) |
/// | 16 | 8 | base time stamp (i64, nanoseconds) |
/// | 24 | … | fixed period: u32 nanoseconds (> 0); or N LEB128 deltas: tᵢ − tᵢ₋₁ (t₋₁ = base) |
/// | … | 4·C | int16 only: per-channel scale (f32, finite, non-zero); value = raw × scale |
/// | … | N·C·(4 or 2) | samples, frame after frame |
/// | end−4 | 4 | CRC32C of everything before |
public enum SensorBatch {
    /// Magic bytes "TSFB" read as a little-endian u32.
    public static let magic: UInt32 = 0x4246_5354
    /// Format version.
    public static let version: UInt8 = 1
    /// Message type of a sensor frame batch.
    public static let messageType: UInt8 = 0x10
    /// Most channels a batch may carry.
    public static let maxChannels = 256
    /// Bytes before the timing field.
    public static let headerSize = 24

    /// How samples are stored.
    public enum SampleFormat: Sendable, Hashable {
        /// IEEE-754 single precision, exact.
        case float32
        /// Signed 16-bit integers times a per-channel scale: what sensor ADCs produce, half the bytes.
        case int16(scales: [Float])

        var code: UInt8 {
            switch self {
            case .float32: 0
            case .int16: 1
            }
        }
        var bytesPerSample: Int {
            switch self {
            case .float32: 4
            case .int16: 2
            }
        }
    }

    /// How time stamps are stored.
    public enum Timing: Sendable, Hashable {
        /// Frame i is at `base + i × period` nanoseconds.
        case fixedPeriod(UInt32)
        /// Explicit time stamps (non-decreasing), stored as deltas.
        case timestamps([Int64])
    }

    /// The fields of a decoded header.
    public struct Header: Sendable, Hashable {
        /// Sequence number.
        public var sequence: UInt32
        /// Channels per frame.
        public var channels: Int
        /// Frames in the batch.
        public var frames: Int
        /// Time stamp of reference (nanoseconds).
        public var base: Int64
        /// Fixed period, if the batch uses one.
        public var period: UInt32?
        /// Sample format.
        public var format: SampleFormat
        /// Time of the first frame.
        public var firstTimestamp: Int64
        /// Time of the last frame.
        public var lastTimestamp: Int64
        /// Total encoded size in bytes.
        public var byteCount: Int
    }

    /// Encodes a batch. `values` holds `frames × channels` floats, frame after frame. For `.int16`, values are
    /// divided by the channel's scale, rounded and clamped to the Int16 range.
    public static func encode(
        sequence: UInt32, channels: Int, values: [Float], base: Int64, timing: Timing, format: SampleFormat = .float32
    ) -> [UInt8] {
        precondition((1...maxChannels).contains(channels), "channel count outside 1...\(maxChannels)")
        precondition(values.count % channels == 0, "values are not whole frames")
        let frames = values.count / channels
        precondition((1...65_535).contains(frames), "frame count outside 1...65535")
        var w = ByteWriter(capacity: headerSize + 8 + frames * channels * format.bytesPerSample + 4 * channels)
        w.write(magic)
        w.write(version)
        w.write(messageType)
        if case .fixedPeriod = timing { w.write(UInt8(1)) } else { w.write(UInt8(0)) }
        w.write(format.code)
        w.write(sequence)
        w.write(UInt16(channels))
        w.write(UInt16(frames))
        w.write(base)
        switch timing {
        case .fixedPeriod(let period):
            precondition(period > 0, "the period must be positive")
            w.write(period)
        case .timestamps(let times):
            precondition(times.count == frames, "one time stamp per frame")
            var previous = base
            for t in times {
                precondition(t >= previous, "time stamps must not decrease")
                w.writeVarint(UInt64(t - previous))
                previous = t
            }
        }
        switch format {
        case .float32:
            values.withUnsafeBufferPointer { w.write(floats: $0) }
        case .int16(let scales):
            precondition(scales.count == channels, "one scale per channel")
            for s in scales { w.write(s) }
            var raw = [Int16](repeating: 0, count: values.count)
            for i in values.indices {
                let q = (values[i] / scales[i % channels]).rounded()
                raw[i] = Int16(Swift.max(-32_768, Swift.min(32_767, q.isNaN ? 0 : q)))
            }
            raw.withUnsafeBufferPointer { w.write(int16s: $0) }
        }
        w.appendChecksum()
        return w.bytes
    }
}
