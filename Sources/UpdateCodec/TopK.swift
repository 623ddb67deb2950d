/// Selection of the k largest-magnitude entries of a vector, without sorting it.
public enum TopK {
    /// How to find the threshold.
    public enum Method: Sendable, Hashable {
        /// ``exact`` below 100,000 values, ``sampled(samples:)`` with 4,096 samples above.
        case automatic
        /// Quickselect on all magnitudes: exact, O(n) expected.
        case exact
        /// Estimate the threshold from a strided sample of `samples` magnitudes, keep every entry above a slightly
        /// lower threshold, then select exactly among those: exact result, one pass over the vector, for very large
        /// vectors.
        case sampled(samples: Int)
    }

    /// The indices (sorted ascending) of the `k` entries of `values` with the largest |value|; ties at the
    /// threshold are broken towards lower indices. `scratch` must hold `values.count` floats.
    public static func select(
        _ values: UnsafeBufferPointer<Float>, k: Int, method: Method = .exact,
        scratch: UnsafeMutableBufferPointer<Float>
    ) -> [UInt32] {
        let n = values.count
        guard k > 0 else { return [] }
        guard k < n else { return (0..<n).map { UInt32($0) } }
        let threshold: Float
        var method = method
        if method == .automatic { method = n < 100_000 ? .exact : .sampled(samples: 4_096) }
        switch method {
        case .automatic, .exact:
            for i in 0..<n { scratch[i] = abs(values[i]) }
            threshold = kthLargest(scratch.baseAddress!, count: n, k: k)
        case .sampled(let samples):
            threshold = sampledThreshold(values, k: k, samples: samples, scratch: scratch)
        }
        // One pass collects everything at or above the threshold, in index order; surplus entries equal to the
        // threshold are then dropped from the end, so ties keep their lowest indices.
        var selected: [UInt32] = []
        selected.reserveCapacity(k + 16)
        forEach(in: values, atLeast: threshold, expected: k) { i, _ in selected.append(UInt32(i)) }
        var surplus = selected.count - k
        var j = selected.count - 1
        while surplus > 0 && j >= 0 {
            if abs(values[Int(selected[j])]) == threshold {
                selected.remove(at: j)
                surplus -= 1
            }
            j -= 1
        }
        return selected
    }

    /// The k-th largest of `count` non-negative floats at `base` (reorders them). Hoare-partition quickselect with
    /// a median-of-three pivot.
    static func kthLargest(_ base: UnsafeMutablePointer<Float>, count: Int, k: Int) -> Float {
        var low = 0
        var high = count - 1
        let target = k - 1  // index in descending order
        while low < high {
            let mid = low + (high - low) / 2
            // Median of three, ordered descending.
            if base[mid] > base[low] { swap(base, mid, low) }
            if base[high] > base[low] { swap(base, high, low) }
            if base[high] > base[mid] { swap(base, high, mid) }
            let pivot = base[mid]
            var i = low
            var j = high
            while i <= j {
                while base[i] > pivot { i += 1 }
                while base[j] < pivot { j -= 1 }
                if i <= j {
                    swap(base, i, j)
                    i += 1
                    j -= 1
                }
            }
            if target <= j {
                high = j
            } else if target >= i {
                low = i
            } else {
                return base[target]
            }
        }
        return base[target]
    }

    /// Calls `body(index, |value|)` for every entry with |value| ≥ `threshold` (≥ 0), in index order. When such
    /// entries are rare (about `expected` of them, fewer than one per 16 values), 16 values are tested at once and
    /// a block without one costs a single branch, so the scan runs at memory speed whatever the loop's alignment;
    /// when they are common, one value at a time (the block test would only add work).
    @inline(__always)
    static func forEach(
        in values: UnsafeBufferPointer<Float>, atLeast threshold: Float, expected: Int, _ body: (Int, Float) -> Void
    ) {
        let n = values.count
        guard let base = values.baseAddress else { return }
        var i = 0
        if expected < n / 16 {
            let above = SIMD16<Float>(repeating: threshold)
            let below = -above
            while i + 16 <= n {
                let block = UnsafeRawPointer(base + i).loadUnaligned(as: SIMD16<Float>.self)
                if any((block .>= above) .| (block .<= below)) {
                    for j in i..<(i + 16) where abs(base[j]) >= threshold { body(j, abs(base[j])) }
                }
                i += 16
            }
        }
        while i < n {
            if abs(base[i]) >= threshold { body(i, abs(base[i])) }
            i += 1
        }
    }

    @inline(__always)
    static func swap(_ base: UnsafeMutablePointer<Float>, _ a: Int, _ b: Int) {
        let t = base[a]
        base[a] = base[b]
        base[b] = t
    }

    /// The exact k-th largest magnitude, found from a sample: a threshold a little below the sample's estimate
    /// keeps a candidate set that contains the top k (retrying lower if not), and quickselect runs on it.
    static func sampledThreshold(
        _ values: UnsafeBufferPointer<Float>, k: Int, samples: Int, scratch: UnsafeMutableBufferPointer<Float>
    ) -> Float {
        let n = values.count
        let s = Swift.min(n, Swift.max(samples, 64))
        let stride = Swift.max(1, n / s)
        var count = 0
        var i = 0
        while i < n && count < s {
            scratch[count] = abs(values[i])
            count += 1
            i += stride
        }
        // Aim for about 1.5·k + 64 candidates: rank of the estimate inside the sample.
        var fraction = Swift.min(1, (1.5 * Double(k) + 64) / Double(n))
        while true {
            let rank = Swift.max(1, Swift.min(count, Int((fraction * Double(count)).rounded(.up))))
            let estimate = kthLargest(scratch.baseAddress!, count: count, k: rank)
            var candidates = 0
            forEach(in: values, atLeast: estimate, expected: Int(fraction * Double(n))) { _, magnitude in
                scratch[candidates] = magnitude
                candidates += 1
            }
            if candidates >= k || fraction >= 1 {
                return kthLargest(scratch.baseAddress!, count: candidates, k: k)
            }
            // Too few above the estimate: widen and sample again.
            fraction = Swift.min(1, fraction * 2)
            count = 0
            i = 0
            while i < n && count < s {
                scratch[count] = abs(values[i])
                count += 1
                i += stride
            }
        }
    }
}
