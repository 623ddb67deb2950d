import Documents

/// JSON for control messages: snake_case keys, sorted (so equal messages are equal bytes, and hashes are
/// stable), and a size limit checked before parsing.
public enum ControlJSON {
    /// Largest control message accepted.
    public static let maxBytes = 1 << 20
    /// Largest device status an aggregator takes (a status is a few hundred bytes; a larger one is refused
    /// as `too_large`, never cut).
    public static let maxStatusBytes = 16 << 10

    static func encode<T: Encodable>(_ value: T) -> [UInt8] {
        // Encoding our own value types cannot fail (no non-finite doubles are allowed in them).
        Array(((try? DocumentEncoder().encode(value))?.json ?? "{}").utf8)
    }

    static func decode<T: Decodable>(_ type: T.Type, from bytes: some Collection<UInt8>, what: String)
        throws(ProtocolError)
        -> T
    {
        guard bytes.count <= maxBytes else {
            throw ProtocolError(.tooLarge, "\(what) of \(bytes.count) bytes (limit \(maxBytes))")
        }
        do {
            return try DocumentDecoder().decode(T.self, from: YAMLParser.parse(utf8: bytes, maxBytes: maxBytes))
        } catch let error as YAMLError {
            throw ProtocolError(.malformed, "\(what): not JSON: \(error)")
        } catch let error as ProtocolError {
            throw error
        } catch let DecodingError.keyNotFound(key, _) {
            throw ProtocolError(.malformed, "\(what): missing \(key.stringValue)")
        } catch let DecodingError.typeMismatch(_, context) {
            throw ProtocolError(
                .malformed, "\(what): wrong type at \(context.codingPath.map(\.stringValue).joined(separator: "."))")
        } catch let DecodingError.valueNotFound(_, context) {
            throw ProtocolError(
                .malformed, "\(what): null at \(context.codingPath.map(\.stringValue).joined(separator: "."))")
        } catch let DecodingError.dataCorrupted(context) {
            throw ProtocolError(.malformed, "\(what): \(context.debugDescription)")
        } catch {
            throw ProtocolError(.malformed, "\(what): \(error)")
        }
    }

    /// A 64-bit hash as 16 lowercase hex digits.
    static func hex(_ value: UInt64) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }

    /// 16 hex digits → the hash.
    static func hash(_ text: String) -> UInt64? {
        guard text.count == 16 else { return nil }
        return UInt64(text, radix: 16)
    }

    /// FNV-1a, 64-bit.
    static func fnv1a(_ bytes: some Sequence<UInt8>) -> UInt64 {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in bytes {
            hash ^= UInt64(byte)
            hash &*= 0x0000_0100_0000_01B3
        }
        return hash
    }
}

/// A 64-bit hash written in JSON as 16 hex digits.
public struct HexHash: Codable, Sendable, Hashable, CustomStringConvertible {
    /// The value.
    public var value: UInt64

    /// Wraps a hash.
    public init(_ value: UInt64) { self.value = value }

    /// Reads 16 hex digits.
    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let value = ControlJSON.hash(text) else {
            throw ProtocolError(.invalidField, "'\(text)' is not a 64-bit hash in 16 hex digits")
        }
        self.value = value
    }

    /// Writes 16 hex digits.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(ControlJSON.hex(value))
    }

    /// 16 hex digits.
    public var description: String { ControlJSON.hex(value) }
}
