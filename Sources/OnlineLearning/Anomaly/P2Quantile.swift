/// A running estimate of one quantile in constant memory: the P² algorithm (Jain & Chlamtac, 1985), five
/// markers moved with piecewise-parabolic interpolation. Used to keep an alarm threshold at a target rate.
public struct P2Quantile: Sendable, Hashable {
    /// The quantile tracked, in (0, 1).
    public let p: Double
    var heights: [Double] = []
    var positions: [Double] = [1, 2, 3, 4, 5]
    var desired: [Double]
    var increments: [Double]
    /// Observations seen.
    public private(set) var count = 0

    /// Tracks the `p` quantile.
    public init(p: Double) {
        precondition(p > 0 && p < 1, "p must be in (0, 1)")
        self.p = p
        desired = [1, 1 + 2 * p, 1 + 4 * p, 3 + 2 * p, 5]
        increments = [0, p / 2, p, (1 + p) / 2, 1]
    }

    /// The current estimate (exact for fewer than five observations).
    public var value: Double {
        if count == 0 { return .nan }
        if count < 5 {
            let sorted = heights.sorted()
            return sorted[Swift.min(sorted.count - 1, Int((p * Double(sorted.count)).rounded(.down)))]
        }
        return heights[2]
    }

    /// Adds an observation.
    public mutating func add(_ x: Double) {
        count += 1
        if count <= 5 {
            heights.append(x)
            if count == 5 { heights.sort() }
            return
        }
        var k: Int
        if x < heights[0] {
            heights[0] = x
            k = 0
        } else if x >= heights[4] {
            heights[4] = x
            k = 3
        } else {
            k = 0
            while k < 3 && x >= heights[k + 1] { k += 1 }
        }
        for i in (k + 1)..<5 { positions[i] += 1 }
        for i in 0..<5 { desired[i] += increments[i] }
        for i in 1...3 {
            let d = desired[i] - positions[i]
            if (d >= 1 && positions[i + 1] - positions[i] > 1) || (d <= -1 && positions[i - 1] - positions[i] < -1) {
                let step: Double = d > 0 ? 1 : -1
                let parabolic =
                    heights[i] + step / (positions[i + 1] - positions[i - 1])
                    * ((positions[i] - positions[i - 1] + step) * (heights[i + 1] - heights[i])
                        / (positions[i + 1] - positions[i])
                        + (positions[i + 1] - positions[i] - step) * (heights[i] - heights[i - 1])
                            / (positions[i] - positions[i - 1]))
                if heights[i - 1] < parabolic && parabolic < heights[i + 1] {
                    heights[i] = parabolic
                } else {
                    let j = i + Int(step)
                    heights[i] += step * (heights[j] - heights[i]) / (positions[j] - positions[i])
                }
                positions[i] += step
            }
        }
    }
}
