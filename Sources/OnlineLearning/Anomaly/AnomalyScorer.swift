/// Anomaly scores for unlabeled streams of feature vectors: each feature is forecast from its previous value
/// by an online AR(1) model, the residuals are standardised by their running spread, and the score is their
/// mean square. An alarm fires when the score exceeds a running threshold kept at the (1 − target rate)
/// quantile of past scores, so the false-alarm rate on normal data stays near the target.
public struct AnomalyScorer: Sendable {
    /// Features per vector.
    public let dimension: Int
    /// The false-alarm rate the threshold aims at.
    public let targetRate: Double
    /// Vectors seen before alarms may fire.
    public let warmup: Int
    var previous: [Double]
    var slope: [Double]
    var intercept: [Double]
    var residualStats: [ChannelMoments]
    var threshold: P2Quantile
    /// Vectors seen.
    public private(set) var count = 0
    /// Alarms raised.
    public private(set) var alarms = 0
    let learningRate: Double

    /// Creates a scorer.
    public init(dimension: Int, targetRate: Double = 0.01, warmup: Int = 200, learningRate: Double = 0.01) {
        precondition(targetRate > 0 && targetRate < 0.5, "target rate must be in (0, 0.5)")
        self.dimension = dimension
        self.targetRate = targetRate
        self.warmup = warmup
        self.learningRate = learningRate
        previous = Array(repeating: 0, count: dimension)
        slope = Array(repeating: 0, count: dimension)
        intercept = Array(repeating: 0, count: dimension)
        residualStats = Array(repeating: ChannelMoments(), count: dimension)
        threshold = P2Quantile(p: 1 - targetRate)
    }

    /// The current alarm threshold.
    public var currentThreshold: Double { threshold.value }

    /// Scores `x` against the forecast, learns from it, and returns the score and whether it raised an alarm.
    public mutating func score(_ x: UnsafeBufferPointer<Float>) -> (score: Double, alarm: Bool) {
        precondition(x.count == dimension, "vector has \(x.count) features, expected \(dimension)")
        count += 1
        guard count > 1 else {
            for i in 0..<dimension { previous[i] = Double(x[i]) }
            return (0, false)
        }
        var sum = 0.0
        for i in 0..<dimension {
            let value = Double(x[i])
            let forecast = slope[i] * previous[i] + intercept[i]
            let residual = value - forecast
            let spread = residualStats[i].standardDeviation
            let standardised = spread > 1e-12 ? residual / spread : 0
            sum += standardised * standardised
            // Learn: normalised LMS on the AR(1) forecast, and the residuals' running spread.
            let norm = 1 + previous[i] * previous[i]
            slope[i] += learningRate * residual * previous[i] / norm
            intercept[i] += learningRate * residual / norm
            residualStats[i].add(residual)
            previous[i] = value
        }
        let s = sum / Double(dimension)
        let ready = count > warmup
        let alarm = ready && threshold.count >= 5 && s > threshold.value
        threshold.add(s)
        if alarm { alarms += 1 }
        return (s, alarm)
    }
}

/// Running mean and variance of one series (Welford).
struct ChannelMoments: Sendable, Hashable {
    var count = 0
    var mean = 0.0
    var m2 = 0.0

    mutating func add(_ x: Double) {
        count += 1
        let delta = x - mean
        mean += delta / Double(count)
        m2 += delta * (x - mean)
    }

    var standardDeviation: Double { count > 1 ? (m2 / Double(count - 1)).squareRoot() : 0 }
}
