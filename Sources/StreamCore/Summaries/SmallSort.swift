/// Sorting and scanning helpers for the sketch's hot paths, specialised for finite `Float`s.
@usableFromInline
enum SmallSort {
    /// Sorts `count` finite floats in place: insertion sort for short runs, quicksort with median-of-three
    /// pivots above. Not stable (floats need no stability) and allocation-free, unlike the standard library's
    /// general-purpose stable sort.
    @usableFromInline
    static func sort(_ base: UnsafeMutablePointer<Float>, count: Int) {
        if count <= 16 {
            SortingNetwork16.sort(base, count: count)
            return
        }
        var low = 0
        var high = count - 1
        // Recurse on the smaller side, loop on the larger: O(log n) stack.
        while high - low > 24 {
            let mid = low + (high - low) / 2
            if base[mid] < base[low] { base.swapAt(mid, low) }
            if base[high] < base[low] { base.swapAt(high, low) }
            if base[high] < base[mid] { base.swapAt(high, mid) }
            let pivot = base[mid]
            var i = low
            var j = high
            while i <= j {
                while base[i] < pivot { i += 1 }
                while base[j] > pivot { j -= 1 }
                if i <= j {
                    base.swapAt(i, j)
                    i += 1
                    j -= 1
                }
            }
            if j - low < high - i {
                sort(base + low, count: j - low + 1)
                low = i
            } else {
                sort(base + i, count: high - i + 1)
                high = j
            }
        }
        insertionSort(base + low, count: high - low + 1)
    }

    @usableFromInline
    static func insertionSort(_ base: UnsafeMutablePointer<Float>, count: Int) {
        guard count > 1 else { return }
        for i in 1..<count {
            let value = base[i]
            var j = i - 1
            while j >= 0 && base[j] > value {
                base[j + 1] = base[j]
                j -= 1
            }
            base[j + 1] = value
        }
    }
}

extension UnsafeMutablePointer where Pointee == Float {
    @inline(__always) @usableFromInline
    func swapAt(_ i: Int, _ j: Int) {
        let t = self[i]
        self[i] = self[j]
        self[j] = t
    }
}

/// Vector scans over runs of floats.
@usableFromInline
enum FloatRun {
    /// The min and max of `count` floats, or nil if any is NaN.
    @inlinable
    static func bounds(_ base: UnsafePointer<Float>, count: Int) -> (Float, Float)? {
        var low = SIMD8<Float>(repeating: .infinity)
        var high = SIMD8<Float>(repeating: -.infinity)
        var nan = SIMDMask<SIMD8<Int32>>()
        let raw = UnsafeRawPointer(base)
        var i = 0
        while i + 8 <= count {
            let x = raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
            nan .|= x .!= x
            low = low.replacing(with: x, where: x .< low)
            high = high.replacing(with: x, where: x .> high)
            i += 8
        }
        if any(nan) { return nil }
        var lo = low.min()
        var hi = high.max()
        while i < count {
            let x = base[i]
            if x.isNaN { return nil }
            lo = Swift.min(lo, x)
            hi = Swift.max(hi, x)
            i += 1
        }
        return (lo, hi)
    }
}
