/// Reads little-endian fields from untrusted bytes. Every read checks the remaining length first and throws
/// ``WireError/Code/truncated`` instead of trapping; nothing is ever read past the end.
public struct ByteReader {
    /// The bytes being read.
    public let bytes: UnsafeRawBufferPointer
    /// Offset of the next byte to read.
    @inlinable public var offset: Int { position }
    @usableFromInline var position: Int

    /// Reads `bytes` from the start.
    @inlinable
    public init(_ bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
        position = 0
    }

    /// Bytes left.
    @inlinable public var remaining: Int { bytes.count - offset }

    @inlinable
    mutating func need(_ count: Int, _ what: StaticString) throws(WireError) {
        guard count >= 0, count <= remaining else {
            throw WireError(.truncated, "need \(count) bytes for \(what), \(remaining) left", offset: offset)
        }
    }

    /// Reads a fixed-width little-endian integer.
    @inlinable
    public mutating func read<T: FixedWidthInteger>(_: T.Type, _ what: StaticString = "integer") throws(WireError) -> T
    {
        let size = MemoryLayout<T>.size
        try need(size, what)
        let value = T(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: T.self))
        position += size
        return value
    }

    /// Reads a little-endian IEEE-754 single.
    @inlinable
    public mutating func readFloat(_ what: StaticString = "float") throws(WireError) -> Float {
        Float(bitPattern: try read(UInt32.self, what))
    }

    /// Reads a little-endian IEEE-754 double.
    @inlinable
    public mutating func readDouble(_ what: StaticString = "double") throws(WireError) -> Double {
        Double(bitPattern: try read(UInt64.self, what))
    }

    /// Reads `count` IEEE-754 singles, little-endian (what `ByteWriter.write(floats:)` wrote).
    public mutating func readFloats(_ count: Int, _ what: StaticString = "floats") throws(WireError) -> [Float] {
        let raw = try readBytes(4 * count, what)
        return (0..<count).map {
            Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self)))
        }
    }

    /// Reads an unsigned LEB128 varint of at most 10 bytes that fits in 64 bits.
    @inlinable
    public mutating func readVarint(_ what: StaticString = "varint") throws(WireError) -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            try need(1, what)
            let byte = bytes[offset]
            position += 1
            if shift == 63 && byte > 1 {
                throw WireError(.malformed, "\(what) overflows 64 bits", offset: offset - 1)
            }
            result |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { return result }
            shift += 7
            if shift > 63 { throw WireError(.malformed, "\(what) is longer than 10 bytes", offset: offset - 1) }
        }
    }

    /// Returns the next `count` bytes without copying and moves past them.
    @inlinable
    public mutating func readBytes(_ count: Int, _ what: StaticString = "bytes") throws(WireError)
        -> UnsafeRawBufferPointer
    {
        try need(count, what)
        let slice = UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + count)])
        position += count
        return slice
    }

    /// Moves past `count` bytes.
    @inlinable
    public mutating func skip(_ count: Int, _ what: StaticString = "bytes") throws(WireError) {
        try need(count, what)
        position += count
    }

    /// Throws ``WireError/Code/lengthMismatch`` if bytes are left over.
    @inlinable
    public func expectEnd(_ what: StaticString = "message") throws(WireError) {
        guard remaining == 0 else {
            throw WireError(.lengthMismatch, "\(remaining) unexpected bytes after \(what)", offset: offset)
        }
    }
}
