public import TributaryMath

/// A mergeable quantile sketch: KLL (Karnin, Lang and Liberty, 2016) with lazy compaction, as popularised by
/// Apache DataSketches, over `Float` values.
///
/// **Guarantee.** With parameter `k`, the normalised rank error of any quantile or rank query is at most
/// ε(k) ≈ 2.296 / k^0.9723 with probability 99 % (the single-sided bound DataSketches derives empirically for
/// this algorithm: 1.33 % at k = 200, 0.69 % at k = 400), regardless of the input's distribution or order; merged
/// sketches keep it. Memory grows only logarithmically with the number of items (about 3k values retained).
/// Compaction coin flips come from a seeded generator, so a sketch is reproducible bit for bit. Compactions of a
/// level come in pairs whose second keeps the other half than the first (each stays unbiased, their errors
/// cancel): at equal memory the typical error is about 10 % below independent coin flips.
public struct KLLSketch: Sendable, Hashable {
    /// The accuracy parameter.
    public let k: Int
    /// The seed of the compaction coin flips.
    public let seed: UInt64
    /// Smallest level capacity.
    @usableFromInline static let minWidth = 8

    /// Items, level by level; level 0 (unsorted) grows downward into the free space at the front.
    @usableFromInline var items: [Float]
    /// Level boundaries: level h holds `items[levels[h]..<levels[h + 1]]`.
    @usableFromInline var levels: [Int]
    /// Items seen (NaN is ignored).
    @inlinable public var count: Int { n }
    /// Smallest item seen (`+∞` when empty).
    @inlinable public var minItem: Float { low }
    /// Largest item seen (`-∞` when empty).
    @inlinable public var maxItem: Float { high }
    @usableFromInline var n: Int
    @usableFromInline var low: Float
    @usableFromInline var high: Float
    @usableFromInline var random: SplitMix64
    /// Capacity of each level for the current level count (derived; recomputed when a level is added).
    @usableFromInline var capacities: [Int]
    /// Per level: the offset of the previous compaction plus 2 when the next one should use its complement,
    /// or 0 when the next one draws a fresh coin.
    @usableFromInline var pendingOffsets: [UInt8] = []

    /// Creates an empty sketch; `k` ≥ 8 (200 is a good default).
    public init(k: Int = 200, seed: UInt64 = 0x5EED) {
        precondition(k >= Self.minWidth && k <= 65_535, "k must be within 8...65535")
        self.k = k
        self.seed = seed
        let capacity = Self.levelCapacity(k: k, levels: 1, level: 0)
        items = [Float](repeating: 0, count: capacity)
        levels = [capacity, capacity]
        n = 0
        low = .infinity
        high = -.infinity
        random = SplitMix64(seed: seed)
        capacities = [capacity]
    }

    /// The single-sided normalised rank error bound at 99 % confidence for parameter `k`.
    public static func rankErrorBound(k: Int) -> Double {
        2.296 / FastMath.pow(Double(k), 0.9723)
    }

    /// Number of levels.
    public var levelCount: Int { levels.count - 1 }
    /// Items held (the sketch's memory, in values).
    public var retained: Int { levels[levels.count - 1] - levels[0] }
    /// Whether nothing was added.
    public var isEmpty: Bool { count == 0 }

    // MARK: Updating

    /// Adds one value (NaN is ignored).
    @inlinable
    public mutating func update(_ value: Float) {
        if value.isNaN { return }
        if levels[0] == 0 { compressWhileUpdating() }
        n += 1
        low = Swift.min(low, value)
        high = Swift.max(high, value)
        levels[0] -= 1
        items[levels[0]] = value
    }

    /// Adds `count` values read `stride` floats apart (one channel of interleaved frames).
    @inlinable
    public mutating func update(strided values: UnsafePointer<Float>, count total: Int, stride: Int) {
        var taken = 0
        while taken < total {
            if levels[0] == 0 { compressWhileUpdating() }
            let batch = Swift.min(levels[0], total - taken)
            var lowest = low
            var highest = high
            var write = levels[0]
            var added = 0
            items.withUnsafeMutableBufferPointer { buffer in
                var read = values + taken * stride
                for _ in 0..<batch {
                    let v = read.pointee
                    read += stride
                    if v.isNaN { continue }
                    write -= 1
                    buffer[write] = v
                    lowest = Swift.min(lowest, v)
                    highest = Swift.max(highest, v)
                    added += 1
                }
            }
            levels[0] = write
            n += added
            low = lowest
            high = highest
            taken += batch
        }
    }

    /// Adds all `values`.
    @inlinable
    public mutating func update(_ values: UnsafeBufferPointer<Float>) {
        guard let base = values.baseAddress else { return }
        var taken = 0
        let total = values.count
        while taken < total {
            if levels[0] == 0 { compressWhileUpdating() }
            let batch = Swift.min(levels[0], total - taken)
            let source = base + taken
            // Fast path: a run without NaN is copied in one go, with vector min/max.
            if let (lowest, highest) = FloatRun.bounds(source, count: batch) {
                let start = levels[0] - batch
                let top = levels[0] - 1
                // Same placement as one-at-a-time updates (level 0 grows downward), so both build equal sketches.
                items.withUnsafeMutableBufferPointer { buffer in
                    let target = buffer.baseAddress!
                    for i in 0..<batch { target[top - i] = source[i] }
                }
                levels[0] = start
                n += batch
                low = Swift.min(low, lowest)
                high = Swift.max(high, highest)
            } else {
                update(strided: source, count: batch, stride: 1)
            }
            taken += batch
        }
    }

    // MARK: Compaction

    /// Capacity of `level` in a sketch with `levels` levels: k·(2/3)^depth rounded, at least ``minWidth``.
    @usableFromInline
    static func levelCapacity(k: Int, levels: Int, level: Int) -> Int {
        let depth = levels - 1 - level
        if depth > 30 { return minWidth }
        var twos: UInt64 = 1
        var threes: UInt64 = 1
        for _ in 0..<depth {
            twos *= 2
            threes *= 3
        }
        let scaled = ((2 * UInt64(k) * twos) / threes + 1) / 2  // k · (2/3)^d, rounded to nearest
        return Swift.max(minWidth, Int(scaled))
    }

    @usableFromInline
    static func totalCapacity(k: Int, levels: Int) -> Int {
        (0..<levels).reduce(0) { $0 + levelCapacity(k: k, levels: levels, level: $1) }
    }

    /// One fair coin flip from a SplitMix64 stream: every seed, even 0 or 1, gives well-mixed bits from the
    /// first flip (a raw xorshift seeded with a small number does not, and biases early compactions).
    @usableFromInline
    mutating func nextBit() -> Int { random.bit() }

    /// The offset (which half survives) for a compaction of `level`: compactions of a level come in pairs, the
    /// first with a fair coin, the second with the other half. Each compaction stays unbiased, and the errors of
    /// a pair cancel instead of adding up, which lowers the variance of every rank estimate at no memory cost.
    @usableFromInline
    mutating func pairedOffset(level: Int) -> Int {
        while pendingOffsets.count <= level { pendingOffsets.append(0) }
        let pending = pendingOffsets[level]
        if pending >= 2 {
            pendingOffsets[level] = 0
            return 1 - Int(pending - 2)
        }
        let bit = nextBit()
        pendingOffsets[level] = UInt8(bit) + 2
        return bit
    }

    /// Frees space in a full sketch by compacting the lowest level at or over its capacity.
    @usableFromInline
    mutating func compressWhileUpdating() {
        let levelCount = self.levelCount
        var level = 0
        levels.withUnsafeBufferPointer { bounds in
            capacities.withUnsafeBufferPointer { capacity in
                while level < levelCount - 1 && bounds[level + 1] - bounds[level] < capacity[level] {
                    level += 1
                }
            }
        }
        if level == levelCount - 1 { addTopLevel() }
        compact(level: level)
    }

    /// Grows the item array for one more (empty) top level.
    @usableFromInline
    mutating func addTopLevel() {
        let oldTotal = levels[levels.count - 1]
        let newTotal = Self.totalCapacity(k: k, levels: levelCount + 1)
        let delta = newTotal - oldTotal
        var grown = [Float](repeating: 0, count: newTotal)
        grown.withUnsafeMutableBufferPointer { target in
            items.withUnsafeBufferPointer { source in
                let used = levels[0]..<oldTotal
                for i in used { target[i + delta] = source[i] }
            }
        }
        items = grown
        for i in levels.indices { levels[i] += delta }
        levels.append(newTotal)
        capacities = (0..<levelCount).map { Self.levelCapacity(k: k, levels: levelCount, level: $0) }
    }

    /// Halves `level` into `level + 1`: sort (level 0), keep every other item from a random offset, merge up.
    @usableFromInline
    mutating func compact(level: Int) {
        let rawBegin = levels[level]
        let rawEnd = levels[level + 1]
        let above = levels[level + 2] - rawEnd
        let rawCount = rawEnd - rawBegin
        let odd = rawCount % 2 == 1
        let begin = odd ? rawBegin + 1 : rawBegin
        let half = (rawCount - (odd ? 1 : 0)) / 2
        let offset = pairedOffset(level: level)
        items.withUnsafeMutableBufferPointer { buffer in
            let base = buffer.baseAddress!
            if level == 0 {
                SmallSort.sort(base + begin, count: 2 * half)
            }
            if above == 0 {
                // Nothing above: keep the survivors in the upper half of the range (backwards, so no survivor
                // is overwritten before it is read).
                var i = half - 1
                while i >= 0 {
                    base[begin + half + i] = base[begin + 2 * i + offset]
                    i -= 1
                }
            } else {
                for i in 0..<half { base[begin + i] = base[begin + 2 * i + offset] }
                // Merge [begin, begin+half) with the level above into [begin+half, rawEnd+above); writing never
                // overtakes the unread part of the level above.
                var a = begin
                let aEnd = begin + half
                var b = rawEnd
                let bEnd = rawEnd + above
                var out = begin + half
                // Branch-free: on random data a branching merge mispredicts half the time.
                while a < aEnd && b < bEnd {
                    let x = base[a]
                    let y = base[b]
                    let takeA = x <= y
                    base[out] = takeA ? x : y
                    a &+= takeA ? 1 : 0
                    b &+= takeA ? 0 : 1
                    out &+= 1
                }
                while a < aEnd {
                    base[out] = base[a]
                    a += 1
                    out += 1
                }
            }
            // The odd item stays on this level, right below the new start of the level above.
            let newAboveStart = rawEnd - half
            if odd {
                base[newAboveStart - 1] = base[rawBegin]
            }
            // Slide the levels below up into the freed space.
            let belowStart = levels[0]
            let belowCount = rawBegin - belowStart
            if half > 0 {
                var i = belowCount - 1
                while i >= 0 {
                    base[belowStart + half + i] = base[belowStart + i]
                    i -= 1
                }
            }
        }
        levels[level + 1] = rawEnd - half
        levels[level] = levels[level + 1] - (odd ? 1 : 0)
        if level > 0 {
            for i in 0..<level { levels[i] += half }
        }
    }

    // MARK: Merging

    /// Folds in a sketch of other items; the result answers queries over both with the same guarantee.
    public mutating func merge(_ other: KLLSketch) {
        guard other.n > 0 else { return }
        var combined = levelArrays()
        let theirs = other.levelArrays()
        for (level, items) in theirs.enumerated() {
            if level >= combined.count { combined.append([]) }
            combined[level] = level == 0 ? combined[0] + items : Self.mergeSorted(combined[level], items)
        }
        let (total, overflow) = n.addingReportingOverflow(other.n)
        n = overflow ? .max : total
        low = Swift.min(low, other.low)
        high = Swift.max(high, other.high)
        rebuild(from: combined)
    }

    /// The items of each level (level 0 unsorted, the others sorted).
    func levelArrays() -> [[Float]] {
        (0..<levelCount).map { Array(items[levels[$0]..<levels[$0 + 1]]) }
    }

    static func mergeSorted(_ a: [Float], _ b: [Float]) -> [Float] {
        var result: [Float] = []
        result.reserveCapacity(a.count + b.count)
        var i = 0
        var j = 0
        while i < a.count && j < b.count {
            if a[i] <= b[j] {
                result.append(a[i])
                i += 1
            } else {
                result.append(b[j])
                j += 1
            }
        }
        result += a[i...]
        result += b[j...]
        return result
    }

    /// Compacts `levelItems` until they fit the capacity of their level count, then lays them out.
    mutating func rebuild(from levelItems: [[Float]]) {
        var lv = levelItems
        while true {
            let levelCount = lv.count
            let total = lv.reduce(0) { $0 + $1.count }
            if total <= Self.totalCapacity(k: k, levels: levelCount) { break }
            var level = 0
            while level < levelCount - 1 && lv[level].count < Self.levelCapacity(k: k, levels: levelCount, level: level)
            {
                level += 1
            }
            if level == levelCount - 1 { lv.append([]) }
            var source = lv[level]
            var kept: [Float] = []
            if source.count % 2 == 1 { kept.append(source.removeFirst()) }
            if level == 0 { source.sort() }
            let offset = pairedOffset(level: level)
            let survivors = stride(from: offset, to: source.count, by: 2).map { source[$0] }
            lv[level] = kept
            lv[level + 1] = Self.mergeSorted(lv[level + 1], survivors)
        }
        let total = Self.totalCapacity(k: k, levels: lv.count)
        var layout = [Float](repeating: 0, count: total)
        var bounds = [Int](repeating: total, count: lv.count + 1)
        var end = total
        for level in stride(from: lv.count - 1, through: 0, by: -1) {
            let start = end - lv[level].count
            for (i, item) in lv[level].enumerated() { layout[start + i] = item }
            bounds[level] = start
            end = start
        }
        items = layout
        levels = bounds
        capacities = (0..<lv.count).map { Self.levelCapacity(k: k, levels: lv.count, level: $0) }
    }

    // MARK: Queries

    /// The items with their weights (2^level), sorted by item.
    public func sortedView() -> [(item: Float, weight: Int)] {
        var view: [(item: Float, weight: Int)] = []
        view.reserveCapacity(retained)
        for level in 0..<levelCount {
            for i in levels[level]..<levels[level + 1] { view.append((items[i], 1 << level)) }
        }
        view.sort { $0.item < $1.item }
        return view
    }

    /// The item whose normalised rank is closest to `fraction` from above: the smallest item whose inclusive
    /// rank (fraction of items ≤ it) is at least `fraction`. Nil when empty.
    public func quantile(_ fraction: Double) -> Float? {
        quantiles([fraction]).first ?? nil
    }

    /// ``quantile(_:)`` for several fractions with one sorted view.
    public func quantiles(_ fractions: [Double]) -> [Float?] {
        guard count > 0 else { return fractions.map { _ in nil } }
        let view = sortedView()
        var cumulative = [Int](repeating: 0, count: view.count)
        var total = 0
        for (i, entry) in view.enumerated() {
            total += entry.weight
            cumulative[i] = total
        }
        return fractions.map { fraction in
            let q = Swift.min(1, Swift.max(0, fraction))
            if q == 0 { return low }
            if q == 1 { return high }
            let target = (q * Double(total)).rounded(.up)
            var low = 0
            var high = cumulative.count - 1
            while low < high {
                let mid = (low + high) / 2
                if Double(cumulative[mid]) >= target { high = mid } else { low = mid + 1 }
            }
            return view[low].item
        }
    }

    /// The estimated fraction of items ≤ `value`.
    public func rank(_ value: Float) -> Double {
        guard count > 0 else { return 0 }
        var weight = 0
        var total = 0
        for level in 0..<levelCount {
            for i in levels[level]..<levels[level + 1] {
                total += 1 << level
                if items[i] <= value { weight += 1 << level }
            }
        }
        return Double(weight) / Double(total)
    }
}
