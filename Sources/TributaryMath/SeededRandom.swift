/// ``SplitMix64`` with a ``Gaussian`` sampler and the draws workloads need (uniform ranges, coin flips, normal
/// samples): the simulator's sensor noise and faults, benchmark workloads, test data.
public struct SeededRandom: RandomNumberGenerator, Sendable {
    /// The underlying generator.
    public var bits: SplitMix64
    @usableFromInline var gaussian = Gaussian()

    /// A generator for `seed`.
    @inlinable
    public init(seed: UInt64) { bits = SplitMix64(seed: seed) }

    /// A generator for `seed`, decorrelated per `stream` (a device index, say).
    @inlinable
    public init(seed: UInt64, stream: UInt64) { bits = SplitMix64(seed: seed, stream: stream) }

    /// The next 64 random bits.
    @inlinable
    public mutating func next() -> UInt64 { bits.next() }

    /// Uniform in [0, 1).
    @inlinable
    public mutating func unit() -> Double { bits.unit() }

    /// Uniform in `range`.
    @inlinable
    public mutating func uniform(_ range: ClosedRange<Double>) -> Double {
        range.lowerBound + (range.upperBound - range.lowerBound) * bits.unit()
    }

    /// True with probability `p`.
    @inlinable
    public mutating func chance(_ p: Double) -> Bool { bits.unit() < p }

    /// A standard normal sample.
    @inlinable
    public mutating func normal() -> Double { gaussian.next(using: &bits) }
}
