import StreamCore
import Testing
import TributaryMath

@Suite struct KLLSketchTests {
    /// The largest distance between a queried fraction and the exact rank interval of the returned value.
    static func maxRankError(_ sketch: KLLSketch, sorted: [Float]) -> Double {
        let fractions = (0..<1000).map { (Double($0) + 0.5) / 1000 }
        let answers = sketch.quantiles(fractions)
        var worst = 0.0
        let n = Double(sorted.count)
        for (q, answer) in zip(fractions, answers) {
            guard let v = answer else { return 1 }
            let below = Double(lowerBound(sorted, v)) / n
            let atOrBelow = Double(upperBound(sorted, v)) / n
            let error = q < below ? below - q : (q > atOrBelow ? q - atOrBelow : 0)
            worst = max(worst, error)
        }
        return worst
    }

    static func lowerBound(_ a: [Float], _ v: Float) -> Int {
        var lo = 0
        var hi = a.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if a[mid] < v { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    static func upperBound(_ a: [Float], _ v: Float) -> Int {
        var lo = 0
        var hi = a.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if a[mid] <= v { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    static func dataset(_ name: String, count: Int) -> [Float] {
        var rng = SeededRandom(seed: 77)
        switch name {
        case "uniform": return (0..<count).map { _ in Float(Double(rng.next() >> 11) / Double(1 << 53)) }
        case "sensor":  // mostly gravity plus noise, with a tail of motion
            return (0..<count).map { i in
                i % 20 == 0 ? Float(Double(rng.next() % 4000) / 100) : Float(9.81 + rng.normal() * 0.5)
            }
        case "sorted": return (0..<count).map { Float($0) }
        case "reversed": return (0..<count).map { Float(count - $0) }
        default: return (0..<count).map { _ in Float(rng.next() % 16) }  // heavy duplicates
        }
    }

    @Test("below capacity the sketch keeps everything and answers exactly")
    func exactWhenSmall() {
        var sketch = KLLSketch(k: 200)
        let values = (0..<150).map { Float(($0 * 37) % 150) }
        values.withUnsafeBufferPointer { sketch.update($0) }
        #expect(sketch.retained == 150)
        #expect(sketch.quantile(0.5) == 74)
        #expect(sketch.quantile(0) == 0 && sketch.quantile(1) == 149)
        #expect(sketch.rank(74) == 75.0 / 150)
    }

    @Test(
        "rank error stays within the stated bound (k = 200) on varied inputs",
        arguments: ["uniform", "sensor", "sorted", "reversed", "duplicates"])
    func rankErrorBound(dataset: String) {
        let values = Self.dataset(dataset, count: 1_000_000)
        var sketch = KLLSketch(k: 200, seed: 9)
        values.withUnsafeBufferPointer { sketch.update($0) }
        let error = Self.maxRankError(sketch, sorted: values.sorted())
        let bound = KLLSketch.rankErrorBound(k: 200)
        #expect(bound > 0.0132 && bound < 0.0134)
        #expect(error <= bound, "max rank error \(error) on \(dataset)")
        #expect(sketch.count == values.count)
        #expect(sketch.retained < 800)
        #expect(sketch.minItem == values.min() && sketch.maxItem == values.max())
    }

    @Test("one-at-a-time and bulk updates build the same sketch; the same seed gives the same answers")
    func deterministic() {
        let values = Self.dataset("sensor", count: 200_000)
        var bulk = KLLSketch(k: 100, seed: 5)
        values.withUnsafeBufferPointer { bulk.update($0) }
        var single = KLLSketch(k: 100, seed: 5)
        for v in values { single.update(v) }
        #expect(bulk == single)
        let fractions = [0.01, 0.25, 0.5, 0.75, 0.99]
        #expect(bulk.quantiles(fractions) == single.quantiles(fractions))
    }

    @Test("merged sketches answer for the union within the bound")
    func merge() {
        let values = Self.dataset("sensor", count: 600_000)
        var parts = (0..<6).map { KLLSketch(k: 200, seed: UInt64($0)) }
        for (i, v) in values.enumerated() { parts[i % 6].update(v) }
        var merged = parts[0]
        for part in parts.dropFirst() { merged.merge(part) }
        #expect(merged.count == values.count)
        #expect(merged.retained <= 3 * 200 + 8 * merged.levelCount)
        #expect(Self.maxRankError(merged, sorted: values.sorted()) <= KLLSketch.rankErrorBound(k: 200))
    }

    @Test("NaN is ignored; an empty sketch has no quantiles")
    func nanAndEmpty() {
        var sketch = KLLSketch()
        #expect(sketch.quantile(0.5) == nil)
        sketch.update(.nan)
        sketch.update(3)
        #expect(sketch.count == 1)
        #expect(sketch.quantile(0.5) == 3)
    }
}
