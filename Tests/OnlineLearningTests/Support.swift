import OnlineLearning
import TributaryMath

/// Deterministic data for tests.
struct TestData {
    var random: SplitMix64

    init(seed: UInt64) { random = SplitMix64(seed: seed) }

    mutating func normal() -> Float {
        var s = 0.0
        for _ in 0..<12 { s += random.unit() }
        return Float(s - 6)
    }

    mutating func vector(_ n: Int) -> [Float] { (0..<n).map { _ in normal() } }
}

extension OnlineLearner {
    mutating func train(_ x: [Float], _ target: Target) {
        x.withUnsafeBufferPointer { _ = train($0, target: target) }
    }

    mutating func predictClass(_ x: [Float]) -> Int {
        x.withUnsafeBufferPointer { predictClass($0) }
    }
}
