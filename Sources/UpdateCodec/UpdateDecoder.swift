public import TributaryWire
public import Zstd

/// Reads update and model messages, validating everything before trusting it: checksum, magic, version,
/// type, flags, identifiers, counts (k ≤ n, n within the limit), the body length, the decompressed size (capped
/// by what k values and indices can need), every index (below n, strictly increasing), every value (finite),
/// and, when given, the expected task and dimension. Rejections are ``WireError``s with a reason.
public struct UpdateDecoder: ~Copyable {
    var decompressor: ZstdDecompressor
    var scratch: [UInt8] = []
    var indexScratch: [Int32] = []
    var valueScratch: [Float] = []
    /// Largest model dimension accepted.
    public let maxDimension: Int

    /// Creates a decoder.
    public init(maxDimension: Int = 100_000_000) throws(ZstdError) {
        self.maxDimension = maxDimension
        decompressor = try ZstdDecompressor(maxDecompressedSize: 1 << 30)
    }

    /// Where the parsed message's parts are.
    struct Parsed {
        var header: UpdateHeader
        var bodyOffset: Int
        var bodyLength: Int
    }

    /// Validates the framing and header (checksum included) without touching the body.
    public func header(_ bytes: UnsafeRawBufferPointer) throws(WireError) -> UpdateHeader {
        try parse(bytes).header
    }

    func parse(_ bytes: UnsafeRawBufferPointer) throws(WireError) -> Parsed {
        guard bytes.count >= 46 else { throw WireError(.truncated, "\(bytes.count) bytes is shorter than a header") }
        var r = ByteReader(UnsafeRawBufferPointer(rebasing: bytes[..<(bytes.count - 4)]))
        guard try r.read(UInt32.self, "magic") == UpdateFormat.magic else {
            throw WireError(.badMagic, "not an update or model message", offset: 0)
        }
        let version = try r.read(UInt8.self, "version")
        guard version == UpdateFormat.version else {
            throw WireError(.unsupportedVersion, "update format version \(version)", offset: 4)
        }
        let stored = UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: bytes.count - 4, as: UInt32.self))
        guard CRC32C.checksum(UnsafeRawBufferPointer(rebasing: bytes[..<(bytes.count - 4)])) == stored else {
            throw WireError(.badChecksum, "update checksum mismatch", offset: bytes.count - 4)
        }
        let typeCode = try r.read(UInt8.self, "message type")
        guard let type = UpdateFormat.MessageType(rawValue: typeCode) else {
            throw WireError(.wrongMessageType, "message type 0x\(String(typeCode, radix: 16))", offset: 5)
        }
        let flags = try r.read(UInt8.self, "flags")
        guard flags & ~15 == 0 else { throw WireError(.malformed, "reserved flag bits set: \(flags)", offset: 6) }
        let valueCode = try r.read(UInt8.self, "value encoding")
        guard let valueEncoding = ValueEncoding(rawValue: valueCode) else {
            throw WireError(.malformed, "unknown value encoding \(valueCode)", offset: 7)
        }
        let indexCode = try r.read(UInt8.self, "index encoding")
        guard let indexEncoding = IndexEncoding(rawValue: indexCode) else {
            throw WireError(.malformed, "unknown index encoding \(indexCode)", offset: 8)
        }
        let task = try identifier(&r, "task id", allowEmpty: false)
        let round = try r.read(UInt32.self, "round")
        let device = try identifier(&r, "device id", allowEmpty: true)
        let weight = try r.read(UInt32.self, "sample weight")
        let dimension = Int(try r.read(UInt32.self, "dimension"))
        guard dimension >= 1, dimension <= maxDimension else {
            throw WireError(.countOutOfRange, "dimension \(dimension) outside 1...\(maxDimension)")
        }
        let k = Int(try r.read(UInt32.self, "k"))
        guard k <= dimension else { throw WireError(.countOutOfRange, "k \(k) exceeds the dimension \(dimension)") }
        if type == .denseModel {
            guard k == dimension, indexEncoding == .dense else {
                throw WireError(.malformed, "a dense model carries every parameter")
            }
        }
        let hash = try r.read(UInt64.self, "model hash")
        let bodyLength = Int(try r.read(UInt32.self, "body length"))
        let plainLength = Int(try r.read(UInt32.self, "uncompressed body length"))
        let bodyOffset = r.offset
        try r.skip(bodyLength, "body")
        let epoch = flags & 8 != 0 ? try r.read(UInt64.self, "epoch") : nil
        var metrics: [UInt8: Float] = [:]
        if flags & 4 != 0 {
            let count = Int(try r.read(UInt8.self, "metric count"))
            guard (1...UpdateFormat.maxMetrics).contains(count) else {
                throw WireError(.countOutOfRange, "\(count) metrics (1...\(UpdateFormat.maxMetrics) allowed)")
            }
            var previous: UInt8?
            for _ in 0..<count {
                let id = try r.read(UInt8.self, "metric id")
                guard previous.map({ id > $0 }) ?? true else { throw WireError(.unsorted, "metric ids must increase") }
                let value = try r.readFloat("metric value")
                guard value.isFinite else { throw WireError(.nonFinite, "metric \(id) is not finite") }
                // An accuracy is a share: one outside [0, 1] would skew the round's reported mean.
                guard id != UpdateFormat.Metric.holdoutAccuracy || (0...1).contains(value) else {
                    throw WireError(.valueOutOfRange, "hold-out accuracy \(value) is outside [0, 1]")
                }
                metrics[id] = value
                previous = id
            }
        }
        var signature: [UInt8]?
        if flags & 2 != 0 {
            let length = Int(try r.read(UInt16.self, "signature length"))
            signature = Array(try r.readBytes(length, "signature"))
        }
        try r.expectEnd("update message")
        let compressed = flags & 1 != 0
        let limit = Self.bodyLimit(dimension: dimension, k: k, values: valueEncoding)
        guard plainLength <= limit, compressed || plainLength == bodyLength else {
            throw WireError(.lengthMismatch, "body claims \(plainLength) bytes; k = \(k) needs at most \(limit)")
        }
        let header = UpdateHeader(
            type: type, task: task, round: round, device: device, sampleWeight: weight, dimension: dimension, k: k,
            valueEncoding: valueEncoding, indexEncoding: indexEncoding, baseModelHash: hash, compressed: compressed,
            signature: signature, byteCount: bytes.count, bodyByteCount: plainLength, metrics: metrics,
            epoch: epoch)
        return Parsed(header: header, bodyOffset: bodyOffset, bodyLength: bodyLength)
    }

    /// The largest uncompressed body k values of a dimension-n vector can need.
    static func bodyLimit(dimension: Int, k: Int, values: ValueEncoding) -> Int {
        Swift.max(10 * k, (dimension + 7) / 8, 4 * k) + ValueCodec.size(values, k: k)
    }

    /// The round a message claims, read without checking anything else (not even its checksum): only for
    /// addressing a rejection to the right round, never for deciding anything.
    public static func claimedRound(_ bytes: UnsafeRawBufferPointer) -> UInt32? {
        var r = ByteReader(bytes)
        guard (try? r.read(UInt32.self)) == UpdateFormat.magic, (try? r.skip(5)) != nil,
            let length = try? r.read(UInt8.self), (try? r.skip(Int(length))) != nil
        else { return nil }
        return try? r.read(UInt32.self)
    }

    func identifier(_ r: inout ByteReader, _ what: StaticString, allowEmpty: Bool) throws(WireError) -> String {
        let length = Int(try r.read(UInt8.self, what))
        guard length <= UpdateFormat.maxIdentifierLength, allowEmpty || length > 0 else {
            throw WireError(.countOutOfRange, "\(what) of \(length) bytes")
        }
        let bytes = try r.readBytes(length, what)
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw WireError(.malformed, "\(what) is not UTF-8")
        }
        return text
    }

    /// Decodes a message, checking task and dimension if given.
    public mutating func decode(
        _ bytes: UnsafeRawBufferPointer, expectedTask: String? = nil, expectedDimension: Int? = nil
    ) throws(WireError) -> DecodedUpdate {
        let header = try decodeIntoScratch(bytes, expectedTask: expectedTask, expectedDimension: expectedDimension)
        let k = header.k
        let indices = indexScratch.prefix(k).map { UInt32(bitPattern: $0) }
        return DecodedUpdate(header: header, indices: indices, values: Array(valueScratch.prefix(k)))
    }

    /// Adds `weight × value` for every carried value into `accumulator` (the aggregator's scatter-add), without
    /// allocating. Validates fully first: a rejected message changes nothing.
    @discardableResult
    public mutating func accumulate(
        _ bytes: UnsafeRawBufferPointer, into accumulator: UnsafeMutableBufferPointer<Float>, weight: Float,
        expectedTask: String? = nil
    ) throws(WireError) -> UpdateHeader {
        let header = try decodeIntoScratch(bytes, expectedTask: expectedTask, expectedDimension: accumulator.count)
        indexScratch.withUnsafeBufferPointer { indices in
            valueScratch.withUnsafeBufferPointer { values in
                let target = accumulator.baseAddress!
                for i in 0..<header.k { target[Int(indices[i])] += weight * values[i] }
            }
        }
        return header
    }

    /// Parses, decompresses, and decodes indices and values into the reused scratch buffers, validating every
    /// field.
    mutating func decodeIntoScratch(
        _ bytes: UnsafeRawBufferPointer, expectedTask: String?, expectedDimension: Int?
    ) throws(WireError) -> UpdateHeader {
        let parsed = try parse(bytes)
        let h = parsed.header
        if let expectedTask, expectedTask != h.task {
            throw WireError(.mismatch, "update for task '\(h.task)', expected '\(expectedTask)'")
        }
        if let expectedDimension, expectedDimension != h.dimension {
            throw WireError(.mismatch, "dimension \(h.dimension), the task's model has \(expectedDimension)")
        }
        if indexScratch.count < h.k {
            indexScratch = [Int32](repeating: 0, count: h.k)
            valueScratch = [Float](repeating: 0, count: h.k)
        }
        let body = UnsafeRawBufferPointer(rebasing: bytes[parsed.bodyOffset..<(parsed.bodyOffset + parsed.bodyLength)])
        if !h.compressed { return try decodeBody(body, h) }
        if scratch.count < h.bodyByteCount { scratch = [UInt8](repeating: 0, count: h.bodyByteCount) }
        var failure: WireError?
        scratch.withUnsafeMutableBytes { out in
            do {
                let written = try decompressor.decompress(
                    body, into: UnsafeMutableRawBufferPointer(rebasing: out[..<h.bodyByteCount]))
                if written != h.bodyByteCount {
                    failure = WireError(
                        .lengthMismatch, "body decompressed to \(written) bytes, header says \(h.bodyByteCount)")
                }
            } catch {
                failure = WireError(.decompression, "\(error)")
            }
        }
        if let failure { throw failure }
        let plain = scratch
        scratch = []
        defer { scratch = plain }
        var result: Result<UpdateHeader, WireError>?
        plain.withUnsafeBytes { bytes in
            result = Result { () throws(WireError) -> UpdateHeader in
                try decodeBody(UnsafeRawBufferPointer(rebasing: bytes[..<h.bodyByteCount]), h)
            }
        }
        return try result!.get()
    }

    mutating func decodeBody(_ body: UnsafeRawBufferPointer, _ h: UpdateHeader) throws(WireError) -> UpdateHeader {
        var r = ByteReader(body)
        var indices = indexScratch
        var values = valueScratch
        indexScratch = []
        valueScratch = []
        defer {
            indexScratch = indices
            valueScratch = values
        }
        try indices.withUnsafeMutableBufferPointer { (out: inout UnsafeMutableBufferPointer<Int32>) throws(WireError) in
            let base = out.baseAddress!
            try IndexCodec.read(&r, as: h.indexEncoding, k: h.k, dimension: h.dimension) { position, index in
                base[position] = Int32(truncatingIfNeeded: index)
            }
        }
        try values.withUnsafeMutableBufferPointer { (out: inout UnsafeMutableBufferPointer<Float>) throws(WireError) in
            let base = out.baseAddress!
            try ValueCodec.read(&r, as: h.valueEncoding, k: h.k) { position, value in base[position] = value }
        }
        try r.expectEnd("update body")
        return h
    }
}
