import Federation
import Foundation
import TributaryMath

/// The project's seeded generator with the draws the strategy tests need.
struct StrategyTestRandom {
    var bits: SplitMix64

    init(seed: UInt64) { bits = SplitMix64(seed: seed) }

    mutating func next() -> UInt64 { bits.next() }

    /// Uniform in [0, 1).
    mutating func unit() -> Double { bits.unit() }

    mutating func uniform(_ low: Double, _ high: Double) -> Double { low + (high - low) * unit() }

    mutating func int(_ range: ClosedRange<Int>) -> Int {
        range.lowerBound + Int(next() % UInt64(range.count))
    }

    /// A random sparse update: each coordinate present with probability `density`, values in ±`scale`.
    mutating func update(
        device: String, dimension: Int, density: Double, scale: Double = 2, weight: Double? = nil,
        staleness: ClosedRange<Int> = 0...0
    ) -> ClientUpdate {
        var indices = [UInt32]()
        var values = [Float]()
        for j in 0..<dimension where unit() < density {
            indices.append(UInt32(j))
            values.append(Float(uniform(-scale, scale)))
        }
        return ClientUpdate(
            device: device, indices: indices, values: values, weight: weight ?? uniform(1, 100).rounded(),
            staleness: int(staleness))
    }
}

/// Dense, naive implementations of the strategy formulas, written from the specification rather than from the
/// library: every vector is a full [Double], every statistic a plain loop or a full sort.
enum StrategyReference {
    static func dense(_ update: ClientUpdate, dimension: Int) -> [Double] {
        var vector = [Double](repeating: 0, count: dimension)
        for (index, value) in zip(update.indices, update.values) { vector[Int(index)] = Double(value) }
        return vector
    }

    static func norm(_ vector: [Double]) -> Double {
        var sum = 0.0
        for x in vector { sum += x * x }
        return sum.squareRoot()
    }

    /// min(1, C/‖u‖), 1 without C or for u = 0.
    static func clipFactor(_ vector: [Double], clipNorm: Double?) -> Double {
        guard let clipNorm else { return 1 }
        let n = norm(vector)
        return n == 0 ? 1 : min(1, clipNorm / n)
    }

    /// nᵢ·(1+sᵢ)^(−a), with the platform's pow.
    static func effectiveWeight(_ update: ClientUpdate, exponent: Double) -> Double {
        update.weight * pow(1 + Double(update.staleness), -exponent)
    }

    /// The clipped dense vectors cᵢ·uᵢ.
    static func clipped(_ updates: [ClientUpdate], dimension: Int, clipNorm: Double?) -> [[Double]] {
        updates.map { update in
            let u = dense(update, dimension: dimension)
            let c = clipFactor(u, clipNorm: clipNorm)
            return u.map { c * $0 }
        }
    }

    /// Δ = Σ wᵢcᵢuᵢ / Σ wᵢ, or the plain mean of cᵢuᵢ when Σ wᵢ = 0.
    static func meanDelta(_ updates: [ClientUpdate], dimension: Int, config: StrategyConfig) -> [Double] {
        let vectors = clipped(updates, dimension: dimension, clipNorm: config.clipNorm)
        var weights = updates.map { effectiveWeight($0, exponent: config.stalenessExponent) }
        var total = weights.reduce(0, +)
        if total == 0 {
            weights = weights.map { _ in 1 }
            total = Double(updates.count)
        }
        var delta = [Double](repeating: 0, count: dimension)
        for (vector, weight) in zip(vectors, weights) {
            for j in 0..<dimension { delta[j] += weight * vector[j] }
        }
        return delta.map { $0 / total }
    }

    static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        let n = sorted.count
        return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2
    }

    static func trimmedMean(_ values: [Double], fraction: Double) -> Double {
        let sorted = values.sorted()
        let t = Int((fraction * Double(sorted.count)).rounded(.down))
        let kept = sorted[t..<(sorted.count - t)]
        return kept.reduce(0, +) / Double(kept.count)
    }

    /// The coordinate-wise median or trimmed mean of the dense clipped vectors (zeros included).
    static func robustDelta(_ updates: [ClientUpdate], dimension: Int, config: StrategyConfig) -> [Double] {
        let vectors = clipped(updates, dimension: dimension, clipNorm: config.clipNorm)
        return (0..<dimension).map { j in
            let column = vectors.map { $0[j] }
            return config.kind == .median ? median(column) : trimmedMean(column, fraction: config.trimFraction)
        }
    }

    static func delta(_ updates: [ClientUpdate], dimension: Int, config: StrategyConfig) -> [Double] {
        switch config.kind {
        case .median, .trimmedMean: robustDelta(updates, dimension: dimension, config: config)
        default: meanDelta(updates, dimension: dimension, config: config)
        }
    }

    /// The server side, all in Double: x, m and v as dense vectors.
    struct Server {
        var x: [Double]
        var m: [Double]
        var v: [Double]

        init(model: [Float]) {
            x = model.map(Double.init)
            m = [Double](repeating: 0, count: model.count)
            v = [Double](repeating: 0, count: model.count)
        }

        mutating func apply(_ delta: [Double], config c: StrategyConfig) {
            let eta = c.serverLearningRate
            for j in 0..<x.count {
                let d = delta[j]
                switch c.kind {
                case .fedAvg, .median, .trimmedMean:
                    x[j] += eta * d
                case .fedAvgM:
                    m[j] = c.momentum * m[j] + d
                    x[j] += eta * m[j]
                case .fedAdam, .fedYogi, .fedAdagrad:
                    m[j] = c.beta1 * m[j] + (1 - c.beta1) * d
                    if c.kind == .fedAdam {
                        v[j] = c.beta2 * v[j] + (1 - c.beta2) * d * d
                    } else if c.kind == .fedYogi {
                        let difference = v[j] - d * d
                        let sign: Double = difference > 0 ? 1 : (difference < 0 ? -1 : 0)
                        v[j] = v[j] - (1 - c.beta2) * d * d * sign
                    } else {
                        v[j] = v[j] + d * d
                    }
                    x[j] += eta * m[j] / (v[j].squareRoot() + c.tau)
                }
            }
        }
    }

    /// |a − b| ≤ tolerance·max(1, |b|).
    static func isClose(_ a: Double, _ b: Double, _ tolerance: Double) -> Bool {
        abs(a - b) <= tolerance * max(1, abs(b))
    }

    /// Index of the first coordinate where `model` and `reference` differ by more than the tolerance, if any.
    static func firstMismatch(_ model: [Float], _ reference: [Double], _ tolerance: Double) -> Int? {
        guard model.count == reference.count else { return -1 }
        return (0..<model.count).first { !isClose(Double(model[$0]), reference[$0], tolerance) }
    }
}
