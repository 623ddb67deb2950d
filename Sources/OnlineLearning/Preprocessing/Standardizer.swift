/// Online standardisation of input features: a running mean and variance per feature (Welford, in Double),
/// applied as (x − mean)/√(variance + ε). Its state is mergeable (Chan's formula) and part of what devices
/// federate, so every device scales features alike.
///
/// The per-feature offset and scale used by ``transform(_:into:)`` are refreshed after every update for the
/// first 256 samples and every 32 samples after that: deterministic, and it keeps square roots off the per-sample
/// path.
public struct Standardizer: Sendable, Hashable {
    /// Features.
    public let dimension: Int
    /// Samples seen.
    public private(set) var count: Int = 0
    /// Running means.
    public private(set) var mean: [Double]
    /// Running sums of squared deviations.
    public private(set) var m2: [Double]
    /// Added to the variance before the square root.
    public var epsilon: Double = 1e-8 {
        didSet { refresh() }
    }
    /// Whether ``update(_:)`` changes the state (off once a global standardizer was adopted and frozen).
    public var frozen = false
    /// The offsets and scales ``transform(_:into:)`` uses (refreshed on the schedule above).
    public private(set) var offset: [Float]
    /// See ``offset``.
    public private(set) var scale: [Float]

    /// A standardizer that has seen nothing (it passes features through until it has).
    public init(dimension: Int) {
        self.dimension = dimension
        mean = Array(repeating: 0, count: dimension)
        m2 = Array(repeating: 0, count: dimension)
        offset = Array(repeating: 0, count: dimension)
        scale = Array(repeating: 1, count: dimension)
    }

    /// A standardizer with the given state (decoding, adopting a federated one).
    public init(count: Int, mean: [Double], m2: [Double]) {
        precondition(mean.count == m2.count, "mean and m2 differ in length")
        dimension = mean.count
        self.count = count
        self.mean = mean
        self.m2 = m2
        offset = Array(repeating: 0, count: dimension)
        scale = Array(repeating: 1, count: dimension)
        refresh()
    }

    /// A standardizer with its full state, including the offsets and scales in use (restoring saved state).
    public init(count: Int, mean: [Double], m2: [Double], offset: [Float], scale: [Float]) {
        precondition(
            mean.count == m2.count && offset.count == mean.count && scale.count == mean.count,
            "state arrays differ in length")
        dimension = mean.count
        self.count = count
        self.mean = mean
        self.m2 = m2
        self.offset = offset
        self.scale = scale
    }

    /// Per-feature population variance.
    public var variance: [Double] { m2.map { count > 0 ? $0 / Double(count) : 0 } }

    /// Folds one sample into the statistics (unless frozen).
    public mutating func update(_ x: UnsafePointer<Float>) {
        if frozen { return }
        count += 1
        let inverse = 1 / Double(count)
        for i in 0..<dimension {
            let v = Double(x[i])
            let delta = v - mean[i]
            mean[i] += delta * inverse
            m2[i] += delta * (v - mean[i])
        }
        if count <= 256 || count % 32 == 0 { refresh() }
    }

    /// Recomputes the offsets and scales from the statistics.
    mutating func refresh() {
        guard count > 1 else {
            for i in 0..<dimension {
                offset[i] = 0
                scale[i] = 1
            }
            return
        }
        let n = Double(count)
        for i in 0..<dimension {
            offset[i] = Float(mean[i])
            scale[i] = Float(1 / (m2[i] / n + epsilon).squareRoot())
        }
    }

    /// Writes the standardised `x` into `output`.
    public func transform(_ x: UnsafePointer<Float>, into output: UnsafeMutablePointer<Float>) {
        offset.withUnsafeBufferPointer { o in
            scale.withUnsafeBufferPointer { s in
                for i in 0..<dimension { output[i] = (x[i] - o[i]) * s[i] }
            }
        }
    }

    /// Folds in another standardizer's statistics (samples from another device).
    public mutating func merge(_ other: Standardizer) {
        precondition(other.dimension == dimension, "dimensions differ")
        guard other.count > 0 else { return }
        if count == 0 {
            count = other.count
            mean = other.mean
            m2 = other.m2
        } else {
            let total = Double(count + other.count)
            for i in 0..<dimension {
                let delta = other.mean[i] - mean[i]
                mean[i] += delta * Double(other.count) / total
                m2[i] += other.m2[i] + delta * delta * Double(count) * Double(other.count) / total
            }
            count += other.count
        }
        refresh()
    }
}
