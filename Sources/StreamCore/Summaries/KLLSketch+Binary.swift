import TributaryMath
public import TributaryWire

extension KLLSketch {
    /// Appends the sketch in its compact binary form: `k` (u16), level count (u8), reserved (u8), count (u64),
    /// min and max (f32), generator state (u64), per level the pending paired offset (u8: 0 none, 2 or 3), the
    /// size of each level (u32), then the items level by level (f32). All little-endian;
    /// 28 + 5·levels + 4·retained bytes.
    public func encode(into writer: inout ByteWriter) {
        writer.write(UInt16(k))
        writer.write(UInt8(levelCount))
        writer.write(UInt8(0))
        writer.write(UInt64(n))
        writer.write(low)
        writer.write(high)
        writer.write(random.state)
        for level in 0..<levelCount { writer.write(level < pendingOffsets.count ? pendingOffsets[level] : 0) }
        for level in 0..<levelCount { writer.write(UInt32(levels[level + 1] - levels[level])) }
        for i in levels[0]..<levels[levelCount] { writer.write(items[i]) }
    }

    /// The compact binary form.
    public func serialized() -> [UInt8] {
        var writer = ByteWriter(capacity: 28 + 5 * levelCount + 4 * retained)
        encode(into: &writer)
        return writer.bytes
    }

    /// Reads a sketch written by ``encode(into:)``, validating every field: sizes against capacity, sorted
    /// levels, finite items, and that the level weights add up to the count.
    public init(from reader: inout ByteReader) throws(WireError) {
        let k = Int(try reader.read(UInt16.self, "KLL k"))
        guard k >= Self.minWidth else { throw WireError(.valueOutOfRange, "KLL k \(k) is below \(Self.minWidth)") }
        let levelCount = Int(try reader.read(UInt8.self, "KLL level count"))
        guard (1...60).contains(levelCount) else {
            throw WireError(.countOutOfRange, "KLL level count \(levelCount) outside 1...60")
        }
        _ = try reader.read(UInt8.self, "KLL reserved byte")
        let count = try reader.read(UInt64.self, "KLL count")
        // 2^53: exact in a double, and ~285,000 years of a 1 kHz sensor; beyond it merges could overflow.
        guard count <= 1 << 53 else { throw WireError(.valueOutOfRange, "KLL count \(count) above 2^53") }
        let low = try reader.readFloat("KLL min")
        let high = try reader.readFloat("KLL max")
        let state = try reader.read(UInt64.self, "KLL generator state")
        var pending: [UInt8] = []
        for _ in 0..<levelCount {
            let p = try reader.read(UInt8.self, "KLL pending offset")
            guard p == 0 || p == 2 || p == 3 else { throw WireError(.malformed, "KLL pending offset \(p)") }
            pending.append(p)
        }
        var sizes: [Int] = []
        var retained = 0
        for _ in 0..<levelCount {
            let size = Int(try reader.read(UInt32.self, "KLL level size"))
            sizes.append(size)
            retained += size
        }
        let capacity = Self.totalCapacity(k: k, levels: levelCount)
        guard retained <= capacity else {
            throw WireError(.countOutOfRange, "KLL holds \(retained) items, capacity is \(capacity)")
        }
        var weight: UInt64 = 0
        for (level, size) in sizes.enumerated() {
            let (product, overflow) = UInt64(size).multipliedReportingOverflow(by: 1 << UInt64(level))
            guard !overflow else { throw WireError(.valueOutOfRange, "KLL level weights overflow") }
            weight &+= product
        }
        guard weight == count else {
            throw WireError(.mismatch, "KLL level weights add up to \(weight), count says \(count)")
        }
        var sketch = KLLSketch(k: k, seed: state)
        var items = [Float](repeating: 0, count: capacity)
        var bounds = [Int](repeating: capacity, count: levelCount + 1)
        var start = capacity - retained
        for (level, size) in sizes.enumerated() {
            bounds[level] = start
            var previous = -Float.infinity
            for i in 0..<size {
                let item = try reader.readFloat("KLL item")
                guard item.isFinite else { throw WireError(.nonFinite, "KLL item is \(item)") }
                guard level == 0 || item >= previous else {
                    throw WireError(.unsorted, "KLL level \(level) is not sorted")
                }
                guard item >= low && item <= high else {
                    throw WireError(.valueOutOfRange, "KLL item \(item) outside [\(low), \(high)]")
                }
                previous = item
                items[start + i] = item
            }
            start += size
        }
        sketch.items = items
        sketch.levels = bounds
        sketch.capacities = (0..<levelCount).map { Self.levelCapacity(k: k, levels: levelCount, level: $0) }
        sketch.n = Int(count)
        sketch.low = count > 0 ? low : .infinity
        sketch.high = count > 0 ? high : -.infinity
        sketch.random = SplitMix64(seed: state)
        sketch.pendingOffsets = pending
        self = sketch
    }
}

extension KLLSketch {
    /// Sketches are equal when they hold the same items per level with the same count, bounds and generator
    /// state: they then answer every query alike and evolve alike. Free space and the original seed do not count.
    public static func == (lhs: KLLSketch, rhs: KLLSketch) -> Bool {
        guard lhs.k == rhs.k, lhs.n == rhs.n, lhs.levelCount == rhs.levelCount, lhs.random == rhs.random,
            lhs.retained == rhs.retained
        else { return false }
        for level in 0..<lhs.levelCount {
            let a = level < lhs.pendingOffsets.count ? lhs.pendingOffsets[level] : 0
            let b = level < rhs.pendingOffsets.count ? rhs.pendingOffsets[level] : 0
            if a != b { return false }
        }
        if lhs.n > 0 && (lhs.low != rhs.low || lhs.high != rhs.high) { return false }
        for level in 0..<lhs.levelCount {
            let a = lhs.items[lhs.levels[level]..<lhs.levels[level + 1]]
            let b = rhs.items[rhs.levels[level]..<rhs.levels[level + 1]]
            if !a.elementsEqual(b) { return false }
        }
        return true
    }

    /// Hashes what ``==(_:_:)`` compares.
    public func hash(into hasher: inout Hasher) {
        hasher.combine(k)
        hasher.combine(n)
        hasher.combine(random.state)
        for i in levels[0]..<levels[levelCount] { hasher.combine(items[i]) }
    }
}
