/// The updates of a median or trimmed-mean round, kept sparse until the round is applied.
///
/// Entries are stored flat (index, cᵢ·uᵢ value). At apply time they are ordered by coordinate (each update's
/// indices are already ascending, so the sort merges runs) and every touched coordinate gets its statistic over
/// its explicit values plus implicit zeros for the updates that did not touch it. Untouched coordinates cost
/// nothing: their statistic is 0.
struct RobustBuffer: Sendable {
    /// Entries are addressed by 32 bits in the sort keys.
    static let maximumEntries = Int(UInt32.max)

    private var indices: [UInt32] = []
    private var values: [Double] = []

    /// Whether `count` more entries fit.
    func canTake(_ count: Int) -> Bool { values.count <= Self.maximumEntries - count }

    /// Stores `clipFactor`·values at indices.
    mutating func append(indices newIndices: [UInt32], values newValues: [Float], clipFactor: Double) {
        indices.append(contentsOf: newIndices)
        values.append(contentsOf: newValues.lazy.map { clipFactor * Double($0) })
    }

    /// Back to no entries, keeping the storage.
    mutating func reset() {
        indices.removeAll(keepingCapacity: true)
        values.removeAll(keepingCapacity: true)
    }

    /// The statistic of every touched coordinate over `updates` values (explicit plus implicit zeros),
    /// coordinates ascending.
    func aggregate(updates: Int, _ statistic: (ImplicitZeros) -> Double) -> (indices: [UInt32], values: [Double]) {
        // Key: coordinate in the high half, entry position in the low half.
        var keys = [UInt64]()
        keys.reserveCapacity(indices.count)
        for (position, index) in indices.enumerated() { keys.append(UInt64(index) &<< 32 | UInt64(position)) }
        keys.sort()

        var outIndices = [UInt32]()
        var outValues = [Double]()
        var group = [Double]()
        var start = 0
        while start < keys.count {
            let coordinate = keys[start] &>> 32
            var end = start
            group.removeAll(keepingCapacity: true)
            while end < keys.count, keys[end] &>> 32 == coordinate {
                group.append(values[Int(truncatingIfNeeded: keys[end] & 0xFFFF_FFFF)])
                end += 1
            }
            group.sort()
            let zeros = Swift.max(0, updates - group.count)
            let result = group.withUnsafeBufferPointer { statistic(ImplicitZeros(sorted: $0, zeros: zeros)) }
            outIndices.append(UInt32(truncatingIfNeeded: coordinate))
            outValues.append(result)
            start = end
        }
        return (outIndices, outValues)
    }
}
