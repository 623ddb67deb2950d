/// Appends little-endian fields to a growing byte array.
public struct ByteWriter {
    /// The bytes written so far.
    public var bytes: [UInt8]

    /// Starts empty, with room for `capacity` bytes.
    @inlinable
    public init(capacity: Int = 256) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    /// Number of bytes written.
    @inlinable public var count: Int { bytes.count }

    /// Appends a fixed-width integer, little-endian.
    @inlinable
    public mutating func write<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    /// Appends an IEEE-754 single, little-endian.
    @inlinable
    public mutating func write(_ value: Float) { write(value.bitPattern) }

    /// Appends an IEEE-754 double, little-endian.
    @inlinable
    public mutating func write(_ value: Double) { write(value.bitPattern) }

    /// Appends an unsigned LEB128 varint.
    @inlinable
    public mutating func writeVarint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    /// Appends raw bytes.
    @inlinable
    public mutating func write(bytes other: UnsafeRawBufferPointer) { bytes.append(contentsOf: other) }

    /// Appends IEEE-754 singles, little-endian, in one copy on little-endian machines.
    @inlinable
    public mutating func write(floats: UnsafeBufferPointer<Float>) {
        #if _endian(little)
            bytes.append(contentsOf: UnsafeRawBufferPointer(floats))
        #else
            for v in floats { write(v) }
        #endif
    }

    /// Appends 16-bit integers, little-endian, in one copy on little-endian machines.
    @inlinable
    public mutating func write(int16s: UnsafeBufferPointer<Int16>) {
        #if _endian(little)
            bytes.append(contentsOf: UnsafeRawBufferPointer(int16s))
        #else
            for v in int16s { write(v) }
        #endif
    }

    /// Appends raw bytes.
    @inlinable
    public mutating func write(bytes other: [UInt8]) { bytes.append(contentsOf: other) }

    /// Overwrites a fixed-width integer at `offset` (for lengths and checksums known only at the end).
    @inlinable
    public mutating func patch<T: FixedWidthInteger>(_ value: T, at offset: Int) {
        precondition(offset >= 0 && offset + MemoryLayout<T>.size <= bytes.count, "patch outside the written bytes")
        withUnsafeBytes(of: value.littleEndian) { source in
            for i in 0..<source.count { bytes[offset + i] = source[i] }
        }
    }

    /// Appends the CRC32C of everything written so far (little-endian).
    @inlinable
    public mutating func appendChecksum() {
        let crc = bytes.withUnsafeBytes { CRC32C.checksum($0) }
        write(crc)
    }
}

extension LEB128 {
    /// Bytes a varint of `value` takes.
    @inlinable
    public static func size(of value: UInt64) -> Int {
        value == 0 ? 1 : (64 - value.leadingZeroBitCount + 6) / 7
    }
}

/// Namespace for LEB128 helpers.
public enum LEB128 {}
