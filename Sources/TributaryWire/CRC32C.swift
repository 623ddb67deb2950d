/// CRC-32C (Castagnoli, polynomial 0x1EDC6F41 reflected as 0x82F63B78), as used by iSCSI, ext4 and many wire
/// formats. Slicing-by-8 in portable Swift: no C, no CPU-specific instructions.
public enum CRC32C {
    @usableFromInline static let tables: [UInt32] = {
        var tables = [UInt32](repeating: 0, count: 8 * 256)
        for n in 0..<256 {
            var crc = UInt32(n)
            for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0x82F6_3B78 : crc >> 1 }
            tables[n] = crc
        }
        for n in 0..<256 {
            var crc = tables[n]
            for t in 1..<8 {
                crc = tables[Int(crc & 0xFF)] ^ (crc >> 8)
                tables[t * 256 + n] = crc
            }
        }
        return tables
    }()

    /// The CRC32C of `bytes`, continuing from `previous` (the CRC of earlier bytes, or 0).
    @inlinable
    public static func checksum(_ bytes: UnsafeRawBufferPointer, continuing previous: UInt32 = 0) -> UInt32 {
        var crc = ~previous
        var index = 0
        let count = bytes.count
        tables.withUnsafeBufferPointer { t in
            while count - index >= 8 {
                let word = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: index, as: UInt64.self))
                let low = UInt32(truncatingIfNeeded: word) ^ crc
                let high = UInt32(truncatingIfNeeded: word >> 32)
                crc =
                    t[7 * 256 + Int(low & 0xFF)] ^ t[6 * 256 + Int((low >> 8) & 0xFF)]
                    ^ t[5 * 256 + Int((low >> 16) & 0xFF)] ^ t[4 * 256 + Int(low >> 24)]
                    ^ t[3 * 256 + Int(high & 0xFF)] ^ t[2 * 256 + Int((high >> 8) & 0xFF)]
                    ^ t[1 * 256 + Int((high >> 16) & 0xFF)] ^ t[Int(high >> 24)]
                index += 8
            }
            while index < count {
                crc = t[Int((crc ^ UInt32(bytes[index])) & 0xFF)] ^ (crc >> 8)
                index += 1
            }
        }
        return ~crc
    }

    /// The CRC32C of `bytes`.
    @inlinable
    public static func checksum(_ bytes: [UInt8]) -> UInt32 {
        bytes.withUnsafeBytes { checksum($0) }
    }
}

extension CRC32C {
    /// The bytes before a trailing CRC32C (u32 little-endian), once it matches them: the reading side of
    /// `ByteWriter.appendChecksum()`. `what` names the message in the error.
    public static func checkedBody(_ bytes: UnsafeRawBufferPointer, _ what: String) throws(WireError)
        -> UnsafeRawBufferPointer
    {
        guard bytes.count >= 4 else { throw WireError(.truncated, "\(what) shorter than its checksum") }
        let body = UnsafeRawBufferPointer(rebasing: bytes[..<(bytes.count - 4)])
        let stored = UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: bytes.count - 4, as: UInt32.self))
        guard checksum(body) == stored else { throw WireError(.badChecksum, "\(what) checksum mismatch") }
        return body
    }
}
