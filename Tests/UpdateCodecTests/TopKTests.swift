import Testing
import UpdateCodec

struct Random {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func float() -> Float { Float(Double(next() >> 11) * 0x1p-53 * 2 - 1) }
    mutating func vector(_ n: Int) -> [Float] { (0..<n).map { _ in float() } }
}

@Suite struct TopKTests {
    /// The reference: indices of the k largest magnitudes by full sort (ties to lower indices).
    static func reference(_ v: [Float], k: Int) -> [UInt32] {
        let order = v.indices.sorted { abs(v[$0]) != abs(v[$1]) ? abs(v[$0]) > abs(v[$1]) : $0 < $1 }
        return order.prefix(k).map { UInt32($0) }.sorted()
    }

    @Test(
        "exact and sampled selection both equal the full-sort reference, ties included",
        arguments: [1, 2, 10, 100, 1_000, 9_999])
    func selection(k: Int) {
        var random = Random(seed: UInt64(k))
        for n in [10_000, 33_333] where k <= n {
            var v = random.vector(n)
            for i in stride(from: 0, to: n, by: 97) { v[i] = 0.5 }  // ties
            let expected = Self.reference(v, k: k)
            var scratch = [Float](repeating: 0, count: n)
            for method in [TopK.Method.exact, .sampled(samples: 512)] {
                let got = v.withUnsafeBufferPointer { values in
                    scratch.withUnsafeMutableBufferPointer { TopK.select(values, k: k, method: method, scratch: $0) }
                }
                #expect(got == expected, "n \(n) k \(k) \(method)")
            }
        }
    }
}
