/// Σ scale·u over sparse vectors u, in a dense Double array, remembering which coordinates were touched.
///
/// The hot path of mean-family aggregation: one multiply-add and one bitmap test per received value, no
/// allocation after the first update. Sums are 0 wherever the bitmap is clear, so only touched coordinates need
/// clearing between rounds.
struct SparseAccumulator: Sendable {
    let dimension: Int
    /// Sums, `dimension` of them once allocated (empty before the first update).
    private(set) var sums: [Double] = []
    /// One bit per coordinate: touched by some update since the last reset.
    private var touchedBits: [UInt64] = []
    /// Coordinates touched since the last reset.
    private(set) var touchedCount = 0

    init(dimension: Int) { self.dimension = dimension }

    private mutating func allocate() {
        guard sums.count != dimension else { return }
        sums = [Double](repeating: 0, count: dimension)
        touchedBits = [UInt64](repeating: 0, count: (dimension + 63) / 64)
    }

    /// Adds scale·values at indices (which the caller checked: below the dimension).
    mutating func add(indices: [UInt32], values: [Float], scale: Double) {
        allocate()
        var newlyTouched = 0
        sums.withUnsafeMutableBufferPointer { sums in
            touchedBits.withUnsafeMutableBufferPointer { bits in
                indices.withUnsafeBufferPointer { indices in
                    values.withUnsafeBufferPointer { values in
                        for position in 0..<indices.count {
                            let index = Int(indices[position])
                            let word = index &>> 6
                            let bit: UInt64 = 1 &<< UInt64(index & 63)
                            let current = bits[word]
                            if current & bit == 0 {
                                bits[word] = current | bit
                                newlyTouched &+= 1
                            }
                            sums[index] += scale * Double(values[position])
                        }
                    }
                }
            }
        }
        touchedCount += newlyTouched
    }

    /// Adds `sums` at `indices` (checked by the caller), or only marks them touched if `addSums` is false.
    mutating func add(indices: [UInt32], sums addend: [Double], addSums: Bool = true) {
        allocate()
        for (position, index32) in indices.enumerated() {
            let index = Int(index32)
            let bit: UInt64 = 1 &<< UInt64(index & 63)
            if touchedBits[index &>> 6] & bit == 0 {
                touchedBits[index &>> 6] |= bit
                touchedCount += 1
            }
            if addSums { sums[index] += addend[position] }
        }
    }

    /// Calls `body` with every touched coordinate, ascending.
    func forEachTouched(_ body: (Int) -> Void) {
        for (wordIndex, word) in touchedBits.enumerated() {
            var bits = word
            while bits != 0 {
                body(wordIndex &<< 6 | bits.trailingZeroBitCount)
                bits &= bits &- 1
            }
        }
    }

    /// Sets every sum back to 0, keeping the touched coordinates.
    mutating func clearSums() {
        guard touchedCount > 0 else { return }
        var sums = self.sums
        self.sums = []
        forEachTouched { sums[$0] = 0 }
        self.sums = sums
    }

    /// Back to no updates, keeping the storage.
    mutating func reset() {
        clearSums()
        for word in touchedBits.indices { touchedBits[word] = 0 }
        touchedCount = 0
    }
}
