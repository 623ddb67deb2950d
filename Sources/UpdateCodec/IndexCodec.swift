import TributaryWire

/// Writing and reading the index section of a sparse body.
enum IndexCodec {
    /// Bytes the indices take as gap varints.
    static func varintSize(_ indices: [UInt32]) -> Int {
        var previous: UInt32 = 0
        var size = 0
        for (i, index) in indices.enumerated() {
            let gap = i == 0 ? UInt64(index) : UInt64(index - previous - 1)
            size += LEB128.size(of: gap)
            previous = index
        }
        return size
    }

    /// The smallest encoding for `indices` in a vector of `dimension` parameters.
    static func choose(_ indices: [UInt32], dimension: Int) -> IndexEncoding {
        if indices.count == dimension { return .dense }
        let bitmapSize = (dimension + 7) / 8
        return bitmapSize < varintSize(indices) ? .bitmap : .deltaVarint
    }

    static func write(_ indices: [UInt32], as encoding: IndexEncoding, dimension: Int, into w: inout ByteWriter) {
        switch encoding {
        case .dense:
            break
        case .deltaVarint:
            var previous: UInt32 = 0
            for (i, index) in indices.enumerated() {
                // First index as is, then gaps minus one (consecutive indices cost a single zero byte).
                w.writeVarint(i == 0 ? UInt64(index) : UInt64(index - previous - 1))
                previous = index
            }
        case .bitmap:
            var bits = [UInt8](repeating: 0, count: (dimension + 7) / 8)
            for index in indices { bits[Int(index) >> 3] |= 1 << UInt8(index & 7) }
            w.write(bytes: bits)
        case .raw32:
            for index in indices { w.write(index) }
        }
    }

    /// Reads `k` indices, checking each is below `dimension` and strictly increasing. Calls `visit` with each
    /// (position, index).
    static func read(
        _ r: inout ByteReader, as encoding: IndexEncoding, k: Int, dimension: Int, _ visit: (Int, Int) -> Void
    ) throws(WireError) {
        switch encoding {
        case .dense:
            guard k == dimension else {
                throw WireError(.countOutOfRange, "dense indices need k = n, got k \(k), n \(dimension)")
            }
            for i in 0..<k { visit(i, i) }
        case .deltaVarint:
            // Varints decoded inline (this loop runs once per received value on the aggregator).
            let bytes = r.bytes
            let end = bytes.count
            var p = r.offset
            var index = -1
            for position in 0..<k {
                var gap: UInt64 = 0
                var shift: UInt64 = 0
                while true {
                    guard p < end else { throw WireError(.truncated, "index gap \(position) is cut short", offset: p) }
                    let byte = bytes[p]
                    p += 1
                    // LEB128 of a u64: at most ten bytes, the tenth carrying only the top bit.
                    if shift == 63 && byte > 1 {
                        throw WireError(.malformed, "index gap overflows 64 bits", offset: p - 1)
                    }
                    gap |= UInt64(byte & 0x7F) << shift
                    if byte < 0x80 { break }
                    shift += 7
                    if shift > 63 { throw WireError(.malformed, "index gap is longer than 10 bytes", offset: p - 1) }
                }
                guard gap < UInt64(dimension) else {
                    throw WireError(.indexOutOfRange, "index gap \(gap) beyond dimension \(dimension)", offset: p)
                }
                index = position == 0 ? Int(gap) : index + 1 + Int(gap)
                guard index < dimension else {
                    throw WireError(.indexOutOfRange, "index \(index) ≥ dimension \(dimension)", offset: p)
                }
                visit(position, index)
            }
            try r.skip(p - r.offset, "index gaps")
        case .bitmap:
            let bytes = try r.readBytes((dimension + 7) / 8, "index bitmap")
            var position = 0
            for byteIndex in 0..<bytes.count {
                var byte = bytes[byteIndex]
                while byte != 0 {
                    let bit = byte.trailingZeroBitCount
                    let index = byteIndex * 8 + bit
                    guard index < dimension else {
                        throw WireError(.indexOutOfRange, "bitmap sets bit \(index) ≥ dimension \(dimension)")
                    }
                    guard position < k else {
                        throw WireError(.countOutOfRange, "bitmap has more than k = \(k) bits set")
                    }
                    visit(position, index)
                    position += 1
                    byte &= byte - 1
                }
            }
            guard position == k else {
                throw WireError(.countOutOfRange, "bitmap has \(position) bits set, k is \(k)")
            }
        case .raw32:
            var previous = -1
            for position in 0..<k {
                let index = Int(try r.read(UInt32.self, "index"))
                guard index < dimension else {
                    throw WireError(.indexOutOfRange, "index \(index) ≥ dimension \(dimension)", offset: r.offset - 4)
                }
                if index == previous {
                    throw WireError(.duplicate, "index \(index) repeats", offset: r.offset - 4)
                }
                guard index > previous else {
                    throw WireError(.unsorted, "index \(index) after \(previous)", offset: r.offset - 4)
                }
                previous = index
                visit(position, index)
            }
        }
    }
}
