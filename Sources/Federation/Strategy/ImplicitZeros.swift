/// Order statistics of a coordinate's n values when only some are explicit and the rest are implicit zeros.
///
/// With the g explicit values sorted, the full sorted sequence is: the negative explicit values, then the
/// n − g zeros, then the non-negative explicit values. Ranks map to explicit positions without materialising
/// the zeros, so a coordinate costs O(g log g) whatever n is.
struct ImplicitZeros {
    /// The explicit values, ascending.
    let sorted: UnsafeBufferPointer<Double>
    /// Implicit zeros.
    let zeros: Int
    /// Explicit values below 0 (they come before the zeros).
    let negatives: Int

    init(sorted: UnsafeBufferPointer<Double>, zeros: Int) {
        self.sorted = sorted
        self.zeros = zeros
        var low = 0
        var high = sorted.count
        while low < high {
            let middle = (low + high) / 2
            if sorted[middle] < 0 { low = middle + 1 } else { high = middle }
        }
        negatives = low
    }

    /// All values, explicit and implicit.
    var count: Int { sorted.count + zeros }

    /// The value at `rank` (0-based) of the full sorted sequence.
    func value(atRank rank: Int) -> Double {
        if rank < negatives { return sorted[rank] }
        if rank < negatives + zeros { return 0 }
        return sorted[rank - zeros]
    }

    /// The median; the mean of the two middle values for an even count.
    var median: Double {
        let n = count
        if n % 2 == 1 { return value(atRank: n / 2) }
        return (value(atRank: n / 2 - 1) + value(atRank: n / 2)) / 2
    }

    /// The mean after dropping `trim` values from each end (clamped so that at least one value remains).
    func trimmedMean(trim: Int) -> Double {
        let n = count
        let t = Swift.max(0, Swift.min(trim, (n - 1) / 2))
        let kept = t..<(n - t)
        var sum = 0.0
        for position in 0..<sorted.count {
            let rank = position < negatives ? position : position + zeros
            if kept.contains(rank) { sum += sorted[position] }
        }
        return sum / Double(kept.count)
    }

    /// ⌊fraction·n⌋ values to trim from each end, clamped to what leaves at least one value (and 0 for NaN).
    static func trimCount(fraction: Double, count n: Int) -> Int {
        let raw = fraction * Double(n)
        guard raw >= 1 else { return 0 }
        return Int(Swift.min(raw, Double((n - 1) / 2)).rounded(.down))
    }
}
