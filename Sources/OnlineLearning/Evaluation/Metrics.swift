import TributaryMath

/// Classification results so far: a streaming confusion matrix and the log-loss.
public struct ClassificationMetrics: Sendable, Hashable {
    /// Number of classes.
    public let classes: Int
    /// Counts, row = actual class, column = predicted class.
    public private(set) var confusion: [Int]
    /// Summed log-loss.
    public private(set) var logLossSum = 0.0
    /// Samples counted.
    public private(set) var count = 0

    /// Empty metrics for `classes` classes (2 for binary).
    public init(classes: Int) {
        precondition(classes >= 2, "at least two classes")
        self.classes = classes
        confusion = Array(repeating: 0, count: classes * classes)
    }

    /// Counts one prediction: the actual class, and the predicted probabilities (P(class 1) for a binary model
    /// with one output, else one per class).
    public mutating func add(actual: Int, probabilities: UnsafeBufferPointer<Float>) {
        precondition((0..<classes).contains(actual), "class \(actual) outside 0..<\(classes)")
        let predicted: Int
        let pActual: Double
        if probabilities.count == 1 {
            predicted = probabilities[0] >= 0.5 ? 1 : 0
            pActual = Double(actual == 1 ? probabilities[0] : 1 - probabilities[0])
        } else {
            var best = 0
            for i in 1..<probabilities.count where probabilities[i] > probabilities[best] { best = i }
            predicted = best
            pActual = Double(probabilities[actual])
        }
        confusion[actual * classes + predicted] += 1
        logLossSum += -FastMath.log(Swift.max(pActual, 1e-15))
        count += 1
    }

    /// Counts one hard prediction (no log-loss).
    public mutating func add(actual: Int, predicted: Int) {
        confusion[actual * classes + predicted] += 1
        count += 1
    }

    /// Fraction predicted right.
    public var accuracy: Double {
        count == 0 ? 0 : Double((0..<classes).reduce(0) { $0 + confusion[$1 * classes + $1] }) / Double(count)
    }

    /// Mean log-loss.
    public var logLoss: Double { count == 0 ? 0 : logLossSum / Double(count) }

    /// F1 of each class (0 for a class never predicted nor present).
    public var f1: [Double] {
        (0..<classes).map { c in
            let tp = Double(confusion[c * classes + c])
            let predicted = Double((0..<classes).reduce(0) { $0 + confusion[$1 * classes + c] })
            let actual = Double((0..<classes).reduce(0) { $0 + confusion[c * classes + $1] })
            return predicted + actual == 0 ? 0 : 2 * tp / (predicted + actual)
        }
    }

    /// Mean F1 over the classes that occur (actual or predicted).
    public var macroF1: Double {
        let present = (0..<classes).filter { c in
            (0..<classes).contains { confusion[c * classes + $0] > 0 || confusion[$0 * classes + c] > 0 }
        }
        guard !present.isEmpty else { return 0 }
        let scores = f1
        return present.reduce(0) { $0 + scores[$1] } / Double(present.count)
    }

    /// Adds another set of counts (another device, another fold).
    public mutating func merge(_ other: ClassificationMetrics) {
        precondition(other.classes == classes, "class counts differ")
        for i in confusion.indices { confusion[i] += other.confusion[i] }
        logLossSum += other.logLossSum
        count += other.count
    }
}

/// Regression results so far.
public struct RegressionMetrics: Sendable, Hashable {
    /// Samples counted.
    public private(set) var count = 0
    /// Sum of squared errors.
    public private(set) var squaredErrorSum = 0.0
    /// Sum of absolute errors.
    public private(set) var absoluteErrorSum = 0.0

    /// No samples yet.
    public init() {}

    /// Counts one prediction.
    public mutating func add(prediction: Float, target: Float) {
        let error = Double(prediction) - Double(target)
        squaredErrorSum += error * error
        absoluteErrorSum += abs(error)
        count += 1
    }

    /// Mean squared error.
    public var mse: Double { count == 0 ? 0 : squaredErrorSum / Double(count) }
    /// Mean absolute error.
    public var mae: Double { count == 0 ? 0 : absoluteErrorSum / Double(count) }
}
