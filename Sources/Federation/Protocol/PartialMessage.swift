import Documents
import TributaryWire

/// A shard's partial aggregate for the root, on `{p}/fl/{task}/partial/{shard}` (JSON; the arrays as base64 of
/// little-endian u32 indices and f64 sums, so the root merges exactly what the shard summed).
///
/// Shards publish their cumulative partial for the current round repeatedly (`seq` increases) until the next
/// round is announced; the root keeps the latest per shard, so a lost message or a restarted root costs nothing.
public struct PartialMessage: Codable, Sendable, Hashable {
    /// Format version.
    public var v: Int = 1
    /// Task id.
    public var task: String
    /// Round the updates were for.
    public var round: UInt32
    /// The shard.
    public var shard: String
    /// Increases with every publication of the shard.
    public var seq: UInt64
    /// Devices whose updates are inside.
    public var devices: [String]
    /// Σ wᵢ.
    public var totalWeight: Double
    /// Model dimension.
    public var dimension: Int
    /// Base64 of the touched coordinates (u32, little-endian, strictly increasing).
    public var indices: String
    /// Base64 of Σ wᵢ·cᵢ·uᵢ per coordinate (f64, little-endian).
    public var sums: String

    /// Largest partial accepted.
    public static let maxBytes = 256 << 20

    /// Wraps a partial aggregate.
    public init(task: String, round: UInt32, shard: String, seq: UInt64, partial: PartialAggregate) {
        self.task = task
        self.round = round
        self.shard = shard
        self.seq = seq
        devices = partial.devices
        totalWeight = partial.totalWeight
        dimension = partial.dimension
        var indexBytes = [UInt8]()
        indexBytes.reserveCapacity(partial.indices.count * 4)
        for i in partial.indices { withUnsafeBytes(of: i.littleEndian) { indexBytes += $0 } }
        var sumBytes = [UInt8]()
        sumBytes.reserveCapacity(partial.weightedSums.count * 8)
        for s in partial.weightedSums { withUnsafeBytes(of: s.bitPattern.littleEndian) { sumBytes += $0 } }
        indices = Base64.encode(indexBytes)
        sums = Base64.encode(sumBytes)
    }

    /// The partial aggregate, checked (indices increasing and below the dimension, sums finite, counts equal).
    public func partial() throws(ProtocolError) -> PartialAggregate {
        guard let indexData = Base64.decode(indices), let sumData = Base64.decode(sums),
            indexData.count % 4 == 0, sumData.count == indexData.count * 2
        else { throw ProtocolError(.malformed, "partial arrays") }
        let count = indexData.count / 4
        var parsedIndices = [UInt32](repeating: 0, count: count)
        var parsedSums = [Double](repeating: 0, count: count)
        indexData.withUnsafeBytes { raw in
            for i in 0..<count {
                parsedIndices[i] = UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self))
            }
        }
        sumData.withUnsafeBytes { raw in
            for i in 0..<count {
                parsedSums[i] = Double(
                    bitPattern: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self)))
            }
        }
        guard dimension >= 1, zip(parsedIndices, parsedIndices.dropFirst()).allSatisfy({ $0 < $1 }),
            parsedIndices.last.map({ Int($0) < dimension }) ?? true, parsedSums.allSatisfy(\.isFinite),
            totalWeight.isFinite, totalWeight >= 0, devices.allSatisfy(Topics.isValidID)
        else { throw ProtocolError(.invalidField, "partial content") }
        return PartialAggregate(
            dimension: dimension, indices: parsedIndices, weightedSums: parsedSums, totalWeight: totalWeight,
            count: devices.count, devices: devices)
    }

    /// The JSON message.
    public var json: [UInt8] { ControlJSON.encode(self) }

    /// Parses a message.
    public static func decode(_ bytes: some Collection<UInt8>) throws(ProtocolError) -> PartialMessage {
        guard bytes.count <= maxBytes else { throw ProtocolError(.tooLarge, "partial of \(bytes.count) bytes") }
        let message: PartialMessage
        do {
            let document = try YAMLParser.parse(utf8: bytes, maxBytes: maxBytes)
            message = try DocumentDecoder().decode(PartialMessage.self, from: document)
        } catch {
            throw ProtocolError(.malformed, "partial: \(error)")
        }
        guard message.v == 1 else { throw ProtocolError(.unsupportedVersion, "partial version \(message.v)") }
        guard Topics.isValidID(message.task), Topics.isValidID(message.shard) else {
            throw ProtocolError(.invalidField, "partial ids")
        }
        return message
    }
}
