/// Sorting 16 or fewer floats with a fixed network of compare-exchanges (Batcher's odd–even merge sort,
/// 63 comparators, checked exhaustively with the 0–1 principle when generated). Every step is a branch-free
/// min/max, so unlike insertion sort it never mispredicts: the sketch's level-0 compactions are mostly 8–16
/// items.
@usableFromInline
enum SortingNetwork16 {
    @inline(__always) @usableFromInline
    static func exchange(_ a: inout Float, _ b: inout Float) {
        let low = Swift.min(a, b)
        b = Swift.max(a, b)
        a = low
    }

    /// Sorts `count` (≤ 16) finite floats in place.
    @usableFromInline
    static func sort(_ base: UnsafeMutablePointer<Float>, count: Int) {
        precondition(count <= 16, "the network sorts at most 16 values")
        var padded = (
            Float.infinity, Float.infinity, Float.infinity, Float.infinity, Float.infinity, Float.infinity,
            Float.infinity, Float.infinity, Float.infinity, Float.infinity, Float.infinity, Float.infinity,
            Float.infinity, Float.infinity, Float.infinity, Float.infinity
        )
        withUnsafeMutableBytes(of: &padded) { raw in
            raw.baseAddress!.copyMemory(from: base, byteCount: count * 4)
        }
        var (v0, v1, v2, v3, v4, v5, v6, v7, v8, v9, v10, v11, v12, v13, v14, v15) = padded
        exchange(&v0, &v1)
        exchange(&v2, &v3)
        exchange(&v4, &v5)
        exchange(&v6, &v7)
        exchange(&v8, &v9)
        exchange(&v10, &v11)
        exchange(&v12, &v13)
        exchange(&v14, &v15)
        exchange(&v0, &v2)
        exchange(&v1, &v3)
        exchange(&v4, &v6)
        exchange(&v5, &v7)
        exchange(&v8, &v10)
        exchange(&v9, &v11)
        exchange(&v12, &v14)
        exchange(&v13, &v15)
        exchange(&v1, &v2)
        exchange(&v5, &v6)
        exchange(&v9, &v10)
        exchange(&v13, &v14)
        exchange(&v0, &v4)
        exchange(&v1, &v5)
        exchange(&v2, &v6)
        exchange(&v3, &v7)
        exchange(&v8, &v12)
        exchange(&v9, &v13)
        exchange(&v10, &v14)
        exchange(&v11, &v15)
        exchange(&v2, &v4)
        exchange(&v3, &v5)
        exchange(&v10, &v12)
        exchange(&v11, &v13)
        exchange(&v1, &v2)
        exchange(&v3, &v4)
        exchange(&v5, &v6)
        exchange(&v9, &v10)
        exchange(&v11, &v12)
        exchange(&v13, &v14)
        exchange(&v0, &v8)
        exchange(&v1, &v9)
        exchange(&v2, &v10)
        exchange(&v3, &v11)
        exchange(&v4, &v12)
        exchange(&v5, &v13)
        exchange(&v6, &v14)
        exchange(&v7, &v15)
        exchange(&v4, &v8)
        exchange(&v5, &v9)
        exchange(&v6, &v10)
        exchange(&v7, &v11)
        exchange(&v2, &v4)
        exchange(&v3, &v5)
        exchange(&v6, &v8)
        exchange(&v7, &v9)
        exchange(&v10, &v12)
        exchange(&v11, &v13)
        exchange(&v1, &v2)
        exchange(&v3, &v4)
        exchange(&v5, &v6)
        exchange(&v7, &v8)
        exchange(&v9, &v10)
        exchange(&v11, &v12)
        exchange(&v13, &v14)
        padded = (v0, v1, v2, v3, v4, v5, v6, v7, v8, v9, v10, v11, v12, v13, v14, v15)
        withUnsafeBytes(of: &padded) { raw in
            UnsafeMutableRawPointer(base).copyMemory(from: raw.baseAddress!, byteCount: count * 4)
        }
    }
}
