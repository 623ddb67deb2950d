/// Standard normal samples from any generator, by Marsaglia's polar method: only a square root and a logarithm
/// (``FastMath/log(_:)``), so the same seed gives the same samples on every platform, with or without Foundation.
/// Samples come in pairs; the second is kept for the next call.
public struct Gaussian: Sendable, Hashable {
    @usableFromInline var spare: Double?

    /// A sampler with no sample kept.
    @inlinable
    public init() {}

    /// One sample of N(0, 1).
    @inlinable
    public mutating func next(using random: inout some RandomNumberGenerator) -> Double {
        if let kept = spare {
            spare = nil
            return kept
        }
        while true {
            let u = 2 * Double(random.next() >> 11) * 0x1p-53 - 1
            let v = 2 * Double(random.next() >> 11) * 0x1p-53 - 1
            let s = u * u + v * v
            guard s > 0, s < 1 else { continue }
            let factor = (-2 * FastMath.log(s) / s).squareRoot()
            spare = v * factor
            return u * factor
        }
    }

    /// One sample of N(`mean`, `deviation`²).
    @inlinable
    public mutating func next(mean: Double, deviation: Double, using random: inout some RandomNumberGenerator)
        -> Double
    {
        mean + deviation * next(using: &random)
    }
}
