/// The project's one seeded random generator: SplitMix64 (Steele, Lea and Flood 2014). Small, fast, and the same
/// sequence on every platform, so model initialisation, device selection, stochastic rounding, sketches, the
/// simulator and the tests are reproducible from a seed.
///
/// Its ``state`` is public so that owners which persist the generator (the KLL sketch's serialised form) can
/// store and restore it.
public struct SplitMix64: RandomNumberGenerator, Sendable, Hashable {
    /// The generator's whole state: the next output is a function of it alone.
    public var state: UInt64

    /// A generator that starts at `seed` (every seed, 0 included, gives well-mixed output from the first draw).
    @inlinable
    public init(seed: UInt64) { state = seed }

    /// A generator for `seed`, decorrelated per `stream` (a device index, say): streams of one seed do not
    /// overlap in practice.
    @inlinable
    public init(seed: UInt64, stream: UInt64) {
        state = seed ^ (stream &* 0xD1B5_4A32_D192_ED03)
        _ = next()
    }

    /// The next 64 random bits.
    @inlinable
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1), with 53 random bits.
    @inlinable
    public mutating func unit() -> Double { Double(next() >> 11) * 0x1p-53 }

    /// One fair bit (the output's top bit).
    @inlinable
    public mutating func bit() -> Int { Int(next() >> 63) }
}
