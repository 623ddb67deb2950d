import TributaryWire

/// How a stream's samples are stored in a recording.
public enum RecordingSampleMode: Sendable, Hashable {
    /// Float32, bit-exact.
    case float32
    /// Quantised to int16 with a per-channel scale (value = raw × scale), as sensor ADCs produce: smaller, lossy.
    case int16(scales: [Float])
}

/// One stream of a recording: which device and sensor it came from, and what its channels mean.
public struct RecordingStream: Sendable, Hashable {
    /// Identifier within the file.
    public var id: UInt16
    /// Device id.
    public var device: String
    /// Stream name (the topic's last level).
    public var name: String
    /// Channel names.
    public var channelNames: [String]
    /// Channel units (same count as names; empty strings when unknown).
    public var units: [String]
    /// Nominal sample rate in Hz (0 when unknown).
    public var sampleRate: Double
    /// Storage mode.
    public var mode: RecordingSampleMode
    /// Names of label values used by label events and label channels (index = label id).
    public var labelNames: [String]
    /// Free-form metadata (subject, arm, site, …).
    public var tags: [String: String]

    /// Creates a stream description.
    public init(
        id: UInt16 = 0, device: String, name: String, channelNames: [String], units: [String] = [],
        sampleRate: Double = 0, mode: RecordingSampleMode = .float32, labelNames: [String] = [],
        tags: [String: String] = [:]
    ) {
        self.id = id
        self.device = device
        self.name = name
        self.channelNames = channelNames
        self.units = units.isEmpty ? Array(repeating: "", count: channelNames.count) : units
        self.sampleRate = sampleRate
        self.mode = mode
        self.labelNames = labelNames
        self.tags = tags
    }

    /// Channels per frame.
    public var channels: Int { channelNames.count }

    func encode(into w: inout ByteWriter) {
        func string(_ s: String) {
            let bytes = Array(s.utf8.prefix(65_535))
            w.write(UInt16(bytes.count))
            w.write(bytes: bytes)
        }
        w.write(id)
        string(device)
        string(name)
        w.write(UInt16(channels))
        for (name, unit) in zip(channelNames, units) {
            string(name)
            string(unit)
        }
        w.write(sampleRate)
        switch mode {
        case .float32:
            w.write(UInt8(0))
        case .int16(let scales):
            w.write(UInt8(1))
            for s in scales { w.write(s) }
        }
        w.write(UInt16(labelNames.count))
        for label in labelNames { string(label) }
        w.write(UInt16(tags.count))
        for key in tags.keys.sorted() {
            string(key)
            string(tags[key]!)
        }
    }

    init(from r: inout ByteReader) throws(WireError) {
        func string(_ what: StaticString) throws(WireError) -> String {
            let length = Int(try r.read(UInt16.self, what))
            guard let s = String(validating: try r.readBytes(length, what), as: UTF8.self) else {
                throw WireError(.malformed, "\(what) is not UTF-8")
            }
            return s
        }
        id = try r.read(UInt16.self, "stream id")
        device = try string("device")
        name = try string("stream name")
        let count = Int(try r.read(UInt16.self, "channel count"))
        guard (1...1_024).contains(count) else { throw WireError(.countOutOfRange, "\(count) channels") }
        var names: [String] = []
        var units: [String] = []
        for _ in 0..<count {
            names.append(try string("channel name"))
            units.append(try string("unit"))
        }
        channelNames = names
        self.units = units
        sampleRate = try r.readDouble("sample rate")
        guard sampleRate.isFinite, sampleRate >= 0 else {
            throw WireError(.valueOutOfRange, "sample rate \(sampleRate)")
        }
        switch try r.read(UInt8.self, "sample mode") {
        case 0:
            mode = .float32
        case 1:
            var scales: [Float] = []
            for _ in 0..<count {
                let s = try r.readFloat("scale")
                guard s.isFinite, s != 0 else { throw WireError(.valueOutOfRange, "scale \(s)") }
                scales.append(s)
            }
            mode = .int16(scales: scales)
        case let other:
            throw WireError(.malformed, "sample mode \(other)")
        }
        let labels = Int(try r.read(UInt16.self, "label count"))
        var labelNames: [String] = []
        for _ in 0..<labels { labelNames.append(try string("label name")) }
        self.labelNames = labelNames
        let tagCount = Int(try r.read(UInt16.self, "tag count"))
        var tags: [String: String] = [:]
        for _ in 0..<tagCount {
            let key = try string("tag key")
            tags[key] = try string("tag value")
        }
        self.tags = tags
    }
}

/// A labelled time range (a supervised task's ground truth travelling with the data).
public struct LabelEvent: Sendable, Hashable {
    /// Start (inclusive, ns).
    public var start: Int64
    /// End (exclusive, ns).
    public var end: Int64
    /// Label id (index into the stream's label names).
    public var label: UInt16

    /// Creates an event.
    public init(start: Int64, end: Int64, label: UInt16) {
        self.start = start
        self.end = end
        self.label = label
    }
}

/// The layout of recording files (specified in docs/recording-format.md).
public enum RecordingFormat {
    /// "TREC".
    public static let magic: UInt32 = 0x4345_5254
    /// "TCHK": every chunk starts with it.
    public static let chunkMagic: UInt32 = 0x4B48_4354
    /// "TIDX": the footer index.
    public static let indexMagic: UInt32 = 0x5844_4954
    /// "TEND": the last four bytes of a cleanly closed file.
    public static let endMagic: UInt32 = 0x444E_4554
    /// Format version.
    public static let version: UInt8 = 1
    /// Bytes of a chunk header.
    public static let chunkHeaderSize = 44
    /// Most values (frames × channels) in one chunk: bounds what a reader allocates for a chunk.
    public static let maxChunkValues = 1 << 24
    /// Largest decompressed chunk payload.
    public static let maxChunkBytes = 1 << 27

    /// Kinds of chunk.
    public enum ChunkKind: UInt8, Sendable {
        /// Frames of one stream.
        case frames = 1
        /// Label events of one stream.
        case labels = 2
        /// A stream declared after the header (a recorder that met a new device or stream).
        case stream = 3
    }
}
