public import StreamCore
public import TributaryWire

extension SensorBatch {
    /// What the hot path needs of a validated batch (no scales array: they are read in place).
    public struct BatchInfo: Sendable, Hashable {
        /// Sequence number.
        public var sequence: UInt32
        /// Channels per frame.
        public var channels: Int
        /// Frames in the batch.
        public var frames: Int
        /// Time of the first frame.
        public var firstTimestamp: Int64
        /// Time of the last frame.
        public var lastTimestamp: Int64
        /// Total encoded size in bytes.
        public var byteCount: Int
    }

    /// A batch checked and parsed, its samples not yet converted: where the timing, scales and samples start.
    /// Parsing allocates nothing.
    struct Parsed {
        var info: BatchInfo
        var base: Int64
        var period: UInt32?
        var timingOffset: Int
        /// Where the int16 scales start; nil for float32 samples.
        var scalesOffset: Int?
        var samplesOffset: Int

        /// The scale of `channel` (int16 samples), read from the message.
        @inline(__always)
        func scale(_ bytes: UnsafeRawBufferPointer, _ channel: Int) -> Float {
            Float(
                bitPattern: UInt32(
                    littleEndian: bytes.loadUnaligned(fromByteOffset: scalesOffset! + 4 * channel, as: UInt32.self)))
        }

        /// The full header, scales included (for tools; allocates the scales array).
        func header(_ bytes: UnsafeRawBufferPointer) -> Header {
            let format: SampleFormat =
                scalesOffset == nil ? .float32 : .int16(scales: (0..<info.channels).map { scale(bytes, $0) })
            return Header(
                sequence: info.sequence, channels: info.channels, frames: info.frames, base: base, period: period,
                format: format, firstTimestamp: info.firstTimestamp, lastTimestamp: info.lastTimestamp,
                byteCount: info.byteCount)
        }
    }

    /// Validates everything in `bytes` before anything is written anywhere: checksum, magic, version, type,
    /// flags, counts, timing (no overflow, no decrease), scales, exact length, finite float32 samples.
    static func parse(_ bytes: UnsafeRawBufferPointer, maxBytes: Int) throws(WireError) -> Parsed {
        guard bytes.count <= maxBytes else {
            throw WireError(.tooLarge, "batch of \(bytes.count) bytes exceeds the \(maxBytes)-byte limit")
        }
        guard bytes.count >= headerSize + 4 else {
            throw WireError(.truncated, "\(bytes.count) bytes is shorter than a batch header")
        }
        let body = UnsafeRawBufferPointer(rebasing: bytes[..<(bytes.count - 4)])
        var r = ByteReader(body)
        guard try r.read(UInt32.self, "magic") == magic else {
            throw WireError(.badMagic, "not a sensor frame batch", offset: 0)
        }
        let v = try r.read(UInt8.self, "version")
        guard v == version else { throw WireError(.unsupportedVersion, "sensor batch version \(v)", offset: 4) }
        let type = try r.read(UInt8.self, "message type")
        guard type == messageType else {
            throw WireError(
                .wrongMessageType, "message type 0x\(String(type, radix: 16)) is not a sensor batch", offset: 5)
        }
        let stored = UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: bytes.count - 4, as: UInt32.self))
        guard CRC32C.checksum(body) == stored else {
            throw WireError(.badChecksum, "sensor batch checksum mismatch", offset: bytes.count - 4)
        }
        let flags = try r.read(UInt8.self, "flags")
        guard flags & ~1 == 0 else { throw WireError(.malformed, "reserved flag bits set: \(flags)", offset: 6) }
        let formatCode = try r.read(UInt8.self, "sample format")
        guard formatCode <= 1 else { throw WireError(.malformed, "unknown sample format \(formatCode)", offset: 7) }
        let sequence = try r.read(UInt32.self, "sequence")
        let channels = Int(try r.read(UInt16.self, "channel count"))
        guard (1...maxChannels).contains(channels) else {
            throw WireError(.countOutOfRange, "\(channels) channels (1...\(maxChannels) allowed)", offset: 12)
        }
        let frames = Int(try r.read(UInt16.self, "frame count"))
        guard frames >= 1 else { throw WireError(.countOutOfRange, "a batch needs at least one frame", offset: 14) }
        let base = try r.read(Int64.self, "base time stamp")
        let timingOffset = r.offset
        var period: UInt32?
        var last = base
        if flags & 1 == 1 {
            let p = try r.read(UInt32.self, "period")
            guard p > 0 else { throw WireError(.valueOutOfRange, "the period must be positive", offset: timingOffset) }
            let (span, overflow) = Int64(p).multipliedReportingOverflow(by: Int64(frames - 1))
            let (end, overflow2) = base.addingReportingOverflow(span)
            guard !overflow, !overflow2 else {
                throw WireError(.valueOutOfRange, "time stamps overflow", offset: timingOffset)
            }
            period = p
            last = end
        } else {
            for _ in 0..<frames {
                let delta = try r.readVarint("time delta")
                guard delta <= UInt64(Int64.max) else {
                    throw WireError(.valueOutOfRange, "time delta \(delta) too large", offset: r.offset)
                }
                let (next, overflow) = last.addingReportingOverflow(Int64(delta))
                guard !overflow else { throw WireError(.valueOutOfRange, "time stamps overflow", offset: r.offset) }
                last = next
            }
        }
        var scalesOffset: Int?
        if formatCode == 1 {
            scalesOffset = r.offset
            for _ in 0..<channels {
                let s = try r.readFloat("scale")
                guard s.isFinite, s != 0 else {
                    throw WireError(.valueOutOfRange, "scale \(s) must be finite and non-zero", offset: r.offset - 4)
                }
            }
        }
        let bytesPerSample = formatCode == 0 ? 4 : 2
        let samplesOffset = r.offset
        let expected = frames * channels * bytesPerSample
        guard r.remaining == expected else {
            throw WireError(
                .lengthMismatch, "\(r.remaining) bytes of samples, expected \(expected)", offset: samplesOffset)
        }
        if formatCode == 0 {
            // Finite check up front, so a bad batch never reaches the ring.
            for i in 0..<(frames * channels) {
                let bits = UInt32(
                    littleEndian: body.loadUnaligned(fromByteOffset: samplesOffset + 4 * i, as: UInt32.self))
                if bits & 0x7F80_0000 == 0x7F80_0000 {
                    throw WireError(.nonFinite, "sample \(i) is NaN or infinite", offset: samplesOffset + 4 * i)
                }
            }
        }
        let firstTimestamp: Int64
        if period != nil {
            firstTimestamp = base
        } else {
            var probe = ByteReader(UnsafeRawBufferPointer(rebasing: body[timingOffset...]))
            firstTimestamp = base &+ Int64(try probe.readVarint("time delta"))
        }
        let info = BatchInfo(
            sequence: sequence, channels: channels, frames: frames, firstTimestamp: firstTimestamp,
            lastTimestamp: last, byteCount: bytes.count)
        return Parsed(
            info: info, base: base, period: period, timingOffset: timingOffset, scalesOffset: scalesOffset,
            samplesOffset: samplesOffset)
    }

    /// Decodes only the header (after full validation).
    public static func header(_ bytes: UnsafeRawBufferPointer, maxBytes: Int = 16 << 20) throws(WireError) -> Header {
        try parse(bytes, maxBytes: maxBytes).header(bytes)
    }

    /// Validates `bytes`, then writes its frames straight into the ring (no intermediate buffer, no allocation).
    /// Throws without touching the ring if anything is wrong, including a channel count that differs from the
    /// ring's. Frames the ring's policy refuses are counted by the ring.
    /// - Parameter accept: called with the validated batch before anything is written; return false to skip
    ///   it (a duplicate, say). `written` is then 0.
    @discardableResult
    public static func decode(
        _ bytes: UnsafeRawBufferPointer, into producer: inout FrameRing.Producer, ring: FrameRing,
        maxBytes: Int = 16 << 20, accept: (BatchInfo) -> Bool = { _ in true }
    ) throws(WireError) -> (info: BatchInfo, written: Int) {
        let parsed = try parse(bytes, maxBytes: maxBytes)
        let info = parsed.info
        guard info.channels == ring.channels else {
            throw WireError(.mismatch, "batch has \(info.channels) channels, the stream has \(ring.channels)")
        }
        guard accept(info) else { return (info, 0) }
        let span = producer.reserve(info.frames)
        let (a, b) = ring.segments(span)
        var timing = TimingCursor(bytes: bytes, parsed: parsed)
        // The two segments one after the other (no array of them: this runs for every batch).
        for segment in 0..<2 {
            let target = segment == 0 ? a : b
            for i in 0..<target.count {
                target.timestamps[i] = timing.next()
            }
            let first = segment == 0 ? 0 : a.count * info.channels
            write(bytes, parsed, from: first, count: target.count * info.channels, into: target.values)
        }
        producer.commit(span.count)
        return (info, span.count)
    }

    /// Decodes into arrays (for tools and tests): time stamps and values frame after frame.
    public static func decode(_ bytes: UnsafeRawBufferPointer, maxBytes: Int = 16 << 20) throws(WireError)
        -> (header: Header, timestamps: [Int64], values: [Float])
    {
        let parsed = try parse(bytes, maxBytes: maxBytes)
        let h = parsed.header(bytes)
        var timing = TimingCursor(bytes: bytes, parsed: parsed)
        let timestamps = (0..<h.frames).map { _ in timing.next() }
        var values = [Float](repeating: 0, count: h.frames * h.channels)
        values.withUnsafeMutableBufferPointer { write(bytes, parsed, from: 0, count: h.frames * h.channels, into: $0) }
        return (h, timestamps, values)
    }

    /// Converts `count` samples starting at sample `from` into `target`.
    static func write(
        _ bytes: UnsafeRawBufferPointer, _ parsed: Parsed, from: Int, count: Int,
        into target: UnsafeMutableBufferPointer<Float>
    ) {
        let channels = parsed.info.channels
        if parsed.scalesOffset == nil {
            let source = parsed.samplesOffset + 4 * from
            for i in 0..<count {
                target[i] = Float(
                    bitPattern: UInt32(
                        littleEndian: bytes.loadUnaligned(
                            fromByteOffset: source + 4 * i, as: UInt32.self)))
            }
        } else {
            let source = parsed.samplesOffset + 2 * from
            for i in 0..<count {
                let raw = Int16(littleEndian: bytes.loadUnaligned(fromByteOffset: source + 2 * i, as: Int16.self))
                target[i] = Float(raw) * parsed.scale(bytes, (from + i) % channels)
            }
        }
    }
}

/// Walks the (already validated) timing field.
struct TimingCursor {
    var reader: ByteReader
    var current: Int64
    let period: Int64?
    var index = 0

    init(bytes: UnsafeRawBufferPointer, parsed: SensorBatch.Parsed) {
        reader = ByteReader(UnsafeRawBufferPointer(rebasing: bytes[parsed.timingOffset...]))
        current = parsed.base
        period = parsed.period.map(Int64.init)
    }

    mutating func next() -> Int64 {
        defer { index += 1 }
        if let period { return current &+ period &* Int64(index) }
        // Validated in parse: cannot fail or overflow here.
        current &+= Int64(truncatingIfNeeded: (try? reader.readVarint()) ?? 0)
        return current
    }
}
