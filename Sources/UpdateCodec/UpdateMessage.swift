/// The header fields of an update or model message.
public struct UpdateHeader: Sendable, Hashable {
    /// What the message is.
    public var type: UpdateFormat.MessageType
    /// Task id.
    public var task: String
    /// Round the update belongs to (models: the round they conclude).
    public var round: UInt32
    /// Sending device (empty for models).
    public var device: String
    /// Samples behind the update (its weight in averaging).
    public var sampleWeight: UInt32
    /// Model dimension n.
    public var dimension: Int
    /// Values carried.
    public var k: Int
    /// Value encoding.
    public var valueEncoding: ValueEncoding
    /// Index encoding.
    public var indexEncoding: IndexEncoding
    /// Hash of the global model the update was computed against (models: of themselves, or of their base for
    /// a delta).
    public var baseModelHash: UInt64
    /// Whether the body was zstd-compressed.
    public var compressed: Bool
    /// The signature trailer, if any.
    public var signature: [UInt8]?
    /// Size of the whole message.
    public var byteCount: Int
    /// Size of the body before compression.
    public var bodyByteCount: Int
    /// What the sender measured, by id (``UpdateFormat/Metric``): a few bytes after the body.
    public var metrics: [UInt8: Float]
    /// The federation epoch the message belongs to (flag bit 3; models and deltas carry it, so a device can tell
    /// a model of another epoch, or one a restarted broker restored, from the current one). nil: not carried.
    public var epoch: UInt64?

    /// Creates a header (the codec fills the sizes and encodings).
    public init(
        type: UpdateFormat.MessageType, task: String, round: UInt32, device: String = "", sampleWeight: UInt32 = 0,
        dimension: Int, k: Int = 0, valueEncoding: ValueEncoding = .float32, indexEncoding: IndexEncoding = .dense,
        baseModelHash: UInt64 = 0, compressed: Bool = true, signature: [UInt8]? = nil, byteCount: Int = 0,
        bodyByteCount: Int = 0, metrics: [UInt8: Float] = [:], epoch: UInt64? = nil
    ) {
        self.type = type
        self.task = task
        self.round = round
        self.device = device
        self.sampleWeight = sampleWeight
        self.dimension = dimension
        self.k = k
        self.valueEncoding = valueEncoding
        self.indexEncoding = indexEncoding
        self.baseModelHash = baseModelHash
        self.compressed = compressed
        self.signature = signature
        self.byteCount = byteCount
        self.bodyByteCount = bodyByteCount
        self.metrics = metrics
        self.epoch = epoch
    }

    /// Bytes a dense float32 vector of the same dimension takes (what frameworks without compression send).
    public var denseFloat32Bytes: Int { 4 * dimension }
}

/// A decoded update or model: its header and its sparse content.
public struct DecodedUpdate: Sendable, Hashable {
    /// The header.
    public var header: UpdateHeader
    /// Indices, strictly increasing.
    public var indices: [UInt32]
    /// Values, one per index.
    public var values: [Float]

    /// The content as a dense vector of the header's dimension (zeros elsewhere).
    public func dense() -> [Float] {
        var out = [Float](repeating: 0, count: header.dimension)
        for (i, index) in indices.enumerated() { out[Int(index)] = values[i] }
        return out
    }
}
