import TributaryMath
import TributaryWire
public import Zstd

/// Writes update and model messages (see ``UpdateFormat``), reusing one zstd context.
public struct UpdateEncoder: ~Copyable {
    var compressor: ZstdCompressor
    /// Whether bodies are zstd-compressed.
    public var compress: Bool

    /// Creates an encoder compressing at `level`.
    public init(level: Int = 3, compress: Bool = true) throws(ZstdError) {
        compressor = try ZstdCompressor(level: level, checksum: false)
        self.compress = compress
    }

    /// Encodes a sparse set of values already quantised for `valueEncoding` (as ``ErrorFeedback`` returns them),
    /// picking the smaller index encoding. `indices` must be strictly increasing and below `header.dimension`.
    public mutating func encode(
        _ header: UpdateHeader, indices: [UInt32], values: [Float], valueEncoding: ValueEncoding
    ) throws(ZstdError) -> [UInt8] {
        precondition(indices.count == values.count, "one value per index")
        var random = SplitMix64(seed: 0)
        let quantized = ValueCodec.quantized(values, as: valueEncoding, random: &random, stochastic: false).wire
        return try encode(header, indices: indices, quantized: quantized, valueEncoding: valueEncoding)
    }

    mutating func encode(
        _ header: UpdateHeader, indices: [UInt32], quantized: QuantizedValues, valueEncoding: ValueEncoding
    ) throws(ZstdError) -> [UInt8] {
        precondition(
            header.task.utf8.count >= 1 && header.task.utf8.count <= UpdateFormat.maxIdentifierLength,
            "task id must be 1...64 bytes")
        precondition(header.device.utf8.count <= UpdateFormat.maxIdentifierLength, "device id must be at most 64 bytes")
        precondition(header.metrics.count <= UpdateFormat.maxMetrics, "at most 16 metrics")
        precondition(header.metrics.values.allSatisfy(\.isFinite), "metrics must be finite")
        let indexEncoding = IndexCodec.choose(indices, dimension: header.dimension)
        var body = ByteWriter(capacity: ValueCodec.size(valueEncoding, k: indices.count) + 2 * indices.count + 16)
        IndexCodec.write(indices, as: indexEncoding, dimension: header.dimension, into: &body)
        ValueCodec.write(quantized, into: &body)
        var payload = body.bytes
        var isCompressed = false
        if compress {
            // Only when zstd actually shrinks the body (float32 values often do not).
            let compressed = try compressor.compress(payload)
            if compressed.count < payload.count {
                payload = compressed
                isCompressed = true
            }
        }
        var w = ByteWriter(capacity: payload.count + 96 + header.task.utf8.count + header.device.utf8.count)
        w.write(UpdateFormat.magic)
        w.write(UpdateFormat.version)
        w.write(header.type.rawValue)
        w.write(
            UInt8(
                (isCompressed ? 1 : 0) | (header.signature != nil ? 2 : 0) | (header.metrics.isEmpty ? 0 : 4)
                    | (header.epoch == nil ? 0 : 8)))
        w.write(valueEncoding.rawValue)
        w.write(indexEncoding.rawValue)
        w.write(UInt8(header.task.utf8.count))
        w.write(bytes: Array(header.task.utf8))
        w.write(header.round)
        w.write(UInt8(header.device.utf8.count))
        w.write(bytes: Array(header.device.utf8))
        w.write(header.sampleWeight)
        w.write(UInt32(header.dimension))
        w.write(UInt32(indices.count))
        w.write(header.baseModelHash)
        w.write(UInt32(payload.count))
        w.write(UInt32(body.count))
        w.write(bytes: payload)
        if let epoch = header.epoch { w.write(epoch) }
        if !header.metrics.isEmpty {
            w.write(UInt8(header.metrics.count))
            for (id, value) in header.metrics.sorted(by: { $0.key < $1.key }) {
                w.write(id)
                w.write(value)
            }
        }
        if let signature = header.signature {
            w.write(UInt16(signature.count))
            w.write(bytes: signature)
        }
        w.appendChecksum()
        return w.bytes
    }

    /// Encodes a full model (k = n, dense indices) as float32 or float16.
    public mutating func encodeModel(
        task: String, round: UInt32, parameters: [Float], valueEncoding: ValueEncoding = .float32,
        epoch: UInt64? = nil
    ) throws(ZstdError) -> [UInt8] {
        precondition(valueEncoding == .float32 || valueEncoding == .float16, "models travel as float32 or float16")
        let header = UpdateHeader(
            type: .denseModel, task: task, round: round, dimension: parameters.count,
            baseModelHash: ModelHash.of(parameters), epoch: epoch)
        let indices = (0..<parameters.count).map { UInt32($0) }
        return try encode(header, indices: indices, values: parameters, valueEncoding: valueEncoding)
    }
}
