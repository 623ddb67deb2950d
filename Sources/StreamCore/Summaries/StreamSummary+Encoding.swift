public import TributaryWire

/// Where and when a summary was taken: the context that travels with it.
public struct SummaryContext: Sendable, Hashable {
    /// Device id.
    public var device: String
    /// Stream name.
    public var stream: String
    /// First frame time (inclusive), nanoseconds.
    public var start: Int64
    /// Last frame time (exclusive), nanoseconds.
    public var end: Int64
    /// Channel names, when known.
    public var channelNames: [String]

    /// Creates a context.
    public init(device: String, stream: String, start: Int64, end: Int64, channelNames: [String] = []) {
        self.device = device
        self.stream = stream
        self.start = start
        self.end = end
        self.channelNames = channelNames
    }
}

extension StreamSummary {
    /// Quantiles included in JSON when sketches are on.
    public static let jsonQuantiles: [Double] = [0.05, 0.25, 0.5, 0.75, 0.95]

    /// The summary as a small JSON document for `{prefix}/dev/{device}/summary`:
    /// `{"v":1,"device":…,"stream":…,"start":…,"end":…,"channels":[{"name":…,"count":…,"mean":…,"std":…,
    /// "min":…,"max":…,"rms":…,"ewma":…,"q":{"p5":…,…}}]}`; `ewma` and `q` only when enabled.
    public func json(_ context: SummaryContext) -> String {
        var w = JSONWriter()
        w.beginObject()
        w.integer("v", 1)
        w.string("device", context.device)
        w.string("stream", context.stream)
        w.integer("start", context.start)
        w.integer("end", context.end)
        w.beginArray("channels")
        for c in 0..<channels {
            let s = stats[c]
            w.beginObject()
            w.string("name", c < context.channelNames.count ? context.channelNames[c] : "c\(c)")
            w.integer("count", Int64(s.count))
            w.number("mean", s.mean)
            w.number("std", s.standardDeviation)
            w.number("min", s.count > 0 ? Double(s.min) : .nan)
            w.number("max", s.count > 0 ? Double(s.max) : .nan)
            w.number("rms", s.rms)
            if ewmaAlpha != nil { w.number("ewma", ewma[c]) }
            if let sketch = sketches?[c] {
                w.beginObject("q")
                let values = sketch.quantiles(Self.jsonQuantiles)
                for (q, v) in zip(Self.jsonQuantiles, values) {
                    w.number("p\(Int((q * 100).rounded()))", v.map(Double.init) ?? .nan)
                }
                w.endObject()
            }
            w.endObject()
        }
        w.endArray()
        w.endObject()
        return w.text
    }

    /// Magic of the binary summary: "TSUM".
    public static let binaryMagic: UInt32 = 0x4D55_5354
    /// Binary summary format version.
    public static let binaryVersion: UInt8 = 1

    /// The compact binary form, for merging exactly elsewhere (an aggregator): magic, version, flags (bit 0:
    /// EWMA, bit 1: sketches), channel count (u16), start and end (i64), then per channel count (u64), mean
    /// and M2 (f64), min and max (f32), sum of squares (f64), EWMA (f64, if flagged), sketch (if flagged);
    /// then the EWMA alpha (f64, if flagged) and a CRC32C of everything before it. Little-endian.
    public func binary(start: Int64, end: Int64) -> [UInt8] {
        var w = ByteWriter(capacity: 32 + channels * 48)
        w.write(Self.binaryMagic)
        w.write(Self.binaryVersion)
        let flags: UInt8 = (ewmaAlpha != nil ? 1 : 0) | (sketches != nil ? 2 : 0)
        w.write(flags)
        w.write(UInt16(channels))
        w.write(start)
        w.write(end)
        for c in 0..<channels {
            let s = stats[c]
            w.write(UInt64(s.count))
            w.write(s.mean)
            w.write(s.m2)
            w.write(s.min)
            w.write(s.max)
            w.write(s.sumOfSquares)
            if ewmaAlpha != nil { w.write(ewma[c]) }
            sketches?[c].encode(into: &w)
        }
        if let alpha = ewmaAlpha { w.write(alpha) }
        w.appendChecksum()
        return w.bytes
    }

    /// Decodes the binary form, validating the checksum and every field; returns the summary and its time range.
    public static func decode(binary bytes: UnsafeRawBufferPointer, maxChannels: Int = 1024) throws(WireError)
        -> (summary: StreamSummary, start: Int64, end: Int64)
    {
        guard bytes.count >= 4 else { throw WireError(.truncated, "summary shorter than its checksum") }
        let body = UnsafeRawBufferPointer(rebasing: bytes[..<(bytes.count - 4)])
        let stored = UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: bytes.count - 4, as: UInt32.self))
        guard CRC32C.checksum(body) == stored else { throw WireError(.badChecksum, "summary checksum mismatch") }
        var r = ByteReader(body)
        guard try r.read(UInt32.self, "magic") == binaryMagic else { throw WireError(.badMagic, "not a summary") }
        let version = try r.read(UInt8.self, "version")
        guard version == binaryVersion else {
            throw WireError(.unsupportedVersion, "summary version \(version)")
        }
        let flags = try r.read(UInt8.self, "flags")
        guard flags & ~3 == 0 else { throw WireError(.malformed, "unknown summary flags \(flags)") }
        let channels = Int(try r.read(UInt16.self, "channel count"))
        guard (1...maxChannels).contains(channels) else {
            throw WireError(.countOutOfRange, "\(channels) channels (1...\(maxChannels) allowed)")
        }
        let start = try r.read(Int64.self, "start")
        let end = try r.read(Int64.self, "end")
        var stats: [ChannelStats] = []
        var ewma: [Double] = []
        var sketches: [KLLSketch] = []
        for _ in 0..<channels {
            let count = try r.read(UInt64.self, "count")
            // 2^53: exact in a double, and ~285,000 years of a 1 kHz sensor; beyond it merges could overflow.
            guard count <= 1 << 53 else { throw WireError(.valueOutOfRange, "count \(count) above 2^53") }
            let mean = try r.readDouble("mean")
            let m2 = try r.readDouble("m2")
            let low = try r.readFloat("min")
            let high = try r.readFloat("max")
            let squares = try r.readDouble("sum of squares")
            if count > 0 {
                guard mean.isFinite, m2.isFinite, squares.isFinite, low.isFinite, high.isFinite else {
                    throw WireError(.nonFinite, "channel statistics contain NaN or infinity")
                }
                guard m2 >= 0, squares >= 0, low <= high else {
                    throw WireError(.valueOutOfRange, "inconsistent channel statistics")
                }
            }
            stats.append(
                ChannelStats(count: Int(count), mean: mean, m2: m2, min: low, max: high, sumOfSquares: squares))
            if flags & 1 != 0 { ewma.append(try r.readDouble("ewma")) }
            if flags & 2 != 0 { sketches.append(try KLLSketch(from: &r)) }
        }
        let alpha = flags & 1 != 0 ? try r.readDouble("ewma alpha") : nil
        if let alpha, !(alpha > 0 && alpha <= 1) { throw WireError(.valueOutOfRange, "EWMA alpha \(alpha)") }
        try r.expectEnd("summary")
        var summary = StreamSummary(channels: channels, ewmaAlpha: alpha)
        summary.stats = stats
        if !ewma.isEmpty { summary.ewma = ewma }
        if !sketches.isEmpty { summary.sketches = sketches }
        return (summary, start, end)
    }
}
