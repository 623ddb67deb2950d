/// Running statistics of one channel: count, mean and variance (Welford's recurrence, numerically stable),
/// min, max, and the sum of squares behind the RMS.
///
/// Two summaries of disjoint data merge exactly with ``merge(_:)`` (Chan, Golub and LeVeque's parallel
/// combination), so windows combine into longer spans and an aggregator combines device summaries without
/// seeing a sample.
public struct ChannelStats: Sendable, Hashable {
    /// Samples seen.
    public var count: Int
    /// Arithmetic mean.
    public var mean: Double
    /// Sum of squared deviations from the mean (M2).
    public var m2: Double
    /// Smallest sample (`+∞` when empty).
    public var min: Float
    /// Largest sample (`-∞` when empty).
    public var max: Float
    /// Sum of squared samples.
    public var sumOfSquares: Double

    /// An empty summary.
    @inlinable
    public init() {
        count = 0
        mean = 0
        m2 = 0
        min = .infinity
        max = -.infinity
        sumOfSquares = 0
    }

    /// A summary with the given fields (for decoding).
    @inlinable
    public init(count: Int, mean: Double, m2: Double, min: Float, max: Float, sumOfSquares: Double) {
        self.count = count
        self.mean = mean
        self.m2 = m2
        self.min = min
        self.max = max
        self.sumOfSquares = sumOfSquares
    }

    /// Population variance (M2 / n); 0 when empty.
    @inlinable public var variance: Double { count > 0 ? m2 / Double(count) : 0 }
    /// Sample variance (M2 / (n − 1)); 0 with fewer than two samples.
    @inlinable public var sampleVariance: Double { count > 1 ? m2 / Double(count - 1) : 0 }
    /// Population standard deviation.
    @inlinable public var standardDeviation: Double { variance.squareRoot() }
    /// Root mean square; 0 when empty.
    @inlinable public var rms: Double { count > 0 ? (sumOfSquares / Double(count)).squareRoot() : 0 }

    /// Adds one sample (Welford).
    @inlinable
    public mutating func add(_ sample: Float) {
        let x = Double(sample)
        count += 1
        let delta = x - mean
        mean += delta / Double(count)
        m2 += delta * (x - mean)
        min = Swift.min(min, sample)
        max = Swift.max(max, sample)
        sumOfSquares += x * x
    }

    /// Folds in `other`, a summary of other samples, as if they had been added here.
    @inlinable
    public mutating func merge(_ other: ChannelStats) {
        guard other.count > 0 else { return }
        guard count > 0 else {
            self = other
            return
        }
        // Saturating: counts that large (above 2^62) are beyond any real stream; they must not trap.
        let (total, overflow) = count.addingReportingOverflow(other.count)
        let n = Double(count) + Double(other.count)
        let delta = other.mean - mean
        mean += delta * (Double(other.count) / n)
        m2 += other.m2 + delta * delta * (Double(count) * Double(other.count) / n)
        count = overflow ? .max : total
        min = Swift.min(min, other.min)
        max = Swift.max(max, other.max)
        sumOfSquares += other.sumOfSquares
    }

    /// `a` and `b` merged.
    @inlinable
    public static func merged(_ a: ChannelStats, _ b: ChannelStats) -> ChannelStats {
        var result = a
        result.merge(b)
        return result
    }
}
