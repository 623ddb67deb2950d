import TributaryWire

/// A 64-bit fingerprint of a parameter vector, to tell which global model an update was computed against and to
/// check a received model. Two CRC32C passes (one from a second seed) over the little-endian floats; not a
/// security measure (signatures are).
public enum ModelHash {
    /// The fingerprint of `parameters`.
    public static func of(_ parameters: UnsafeBufferPointer<Float>) -> UInt64 {
        let bytes = UnsafeRawBufferPointer(parameters)
        let high = CRC32C.checksum(bytes)
        let low = CRC32C.checksum(bytes, continuing: 0x5EED_1234)
        return UInt64(high) << 32 | UInt64(low) ^ UInt64(parameters.count)
    }

    /// The fingerprint of `parameters`.
    public static func of(_ parameters: [Float]) -> UInt64 {
        parameters.withUnsafeBufferPointer { of($0) }
    }
}
