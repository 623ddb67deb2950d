/// Trains a learner on a stream while measuring it two ways: prequentially (every training sample is first
/// predicted, then learned: test-then-train) and on a hold-out (every Nth sample is only predicted, never
/// learned), as an agent reports it.
public struct StreamEvaluator: Sendable {
    /// Every `holdoutEvery`-th sample is held out (0: none).
    public let holdoutEvery: Int
    /// Test-then-train results on the training samples.
    public private(set) var prequential: ClassificationMetrics
    /// Results on the held-out samples.
    public private(set) var holdout: ClassificationMetrics
    /// Regression counterparts (for linear heads).
    public private(set) var prequentialRegression = RegressionMetrics()
    /// Regression results on the held-out samples.
    public private(set) var holdoutRegression = RegressionMetrics()
    /// Samples seen.
    public private(set) var seen = 0
    var probabilities: [Float]

    /// An evaluator for a network with `classes` classes (use 2 for binary and for regression).
    public init(classes: Int, outputs: Int, holdoutEvery: Int = 5) {
        self.holdoutEvery = holdoutEvery
        prequential = ClassificationMetrics(classes: Swift.max(2, classes))
        holdout = ClassificationMetrics(classes: Swift.max(2, classes))
        probabilities = Array(repeating: 0, count: outputs)
    }

    /// Whether the next sample will be held out.
    public var nextIsHoldout: Bool { holdoutEvery > 0 && seen % holdoutEvery == holdoutEvery - 1 }

    /// Predicts `x`, records the result, and trains on it unless it is a hold-out sample. Returns whether it
    /// was held out.
    @discardableResult
    public mutating func process(_ x: UnsafeBufferPointer<Float>, target: Target, learner: inout OnlineLearner) -> Bool
    {
        let isHoldout = nextIsHoldout
        seen += 1
        var out = probabilities
        probabilities = []
        out.withUnsafeMutableBufferPointer { learner.predict(x, into: $0) }
        out.withUnsafeBufferPointer { p in
            if learner.network.head == .linear {
                if isHoldout {
                    holdoutRegression.add(prediction: p[0], target: target.value)
                } else {
                    prequentialRegression.add(prediction: p[0], target: target.value)
                }
            } else if isHoldout {
                holdout.add(actual: target.label, probabilities: p)
            } else {
                prequential.add(actual: target.label, probabilities: p)
            }
        }
        probabilities = out
        if !isHoldout { learner.train(x, target: target) }
        return isHoldout
    }
}
