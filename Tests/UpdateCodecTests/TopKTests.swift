import Testing
import TributaryMath
import UpdateCodec

/// The project's seeded generator, with the draws these tests need.
struct Random {
    var bits: SplitMix64
    init(seed: UInt64) { bits = SplitMix64(seed: seed) }
    mutating func next() -> UInt64 { bits.next() }
    mutating func float() -> Float { Float(bits.unit() * 2 - 1) }
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
        // 37: shorter than a few of the scan's 16-value blocks, with a tail; 33,333: a tail too.
        for n in [37, 10_000, 33_333] where k <= n {
            var v = random.vector(n)
            for i in stride(from: 0, to: n, by: 7) { v[i] = i % 2 == 0 ? 0.5 : -0.5 }  // ties, of both signs
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
