public import TributaryMath
public import TributaryWire

/// The delta stage: what local training changed, local − global, coordinate by coordinate.
public enum DeltaStage {
    /// `local − global` into `delta` (all three of one length).
    public static func apply(
        local: UnsafeBufferPointer<Float>, global: UnsafeBufferPointer<Float>,
        into delta: UnsafeMutableBufferPointer<Float>
    ) {
        precondition(local.count == global.count && delta.count == local.count, "vectors of different lengths")
        for i in 0..<delta.count { delta[i] = local[i] - global[i] }
    }
}

/// The clip stage: scales a delta so that its L2 norm is at most ``maxNorm`` (DP-FedAvg's clipping, and a
/// bound on what one device can move the model). Without a bound it changes nothing.
public struct ClipStage: Sendable, Hashable {
    /// The largest L2 norm a delta may have; nil: no clipping.
    public var maxNorm: Float?

    /// A clip stage.
    public init(maxNorm: Float? = nil) {
        precondition(maxNorm.map { $0 > 0 && $0.isFinite } ?? true, "the clipping norm must be positive")
        self.maxNorm = maxNorm
    }

    /// Clips `delta` in place; returns its norm before clipping and the factor applied (1: unchanged).
    @discardableResult
    public func apply(_ delta: UnsafeMutableBufferPointer<Float>) -> (norm: Double, factor: Float) {
        var sum = 0.0
        for x in delta { sum += Double(x) * Double(x) }
        let norm = sum.squareRoot()
        guard let maxNorm, norm > Double(maxNorm) else { return (norm, 1) }
        let factor = Float(Double(maxNorm) / norm)
        for i in 0..<delta.count { delta[i] *= factor }
        return (norm, factor)
    }
}

/// The noise stage: adds independent Gaussian noise N(0, ``deviation``²) to every coordinate of a delta (the
/// Gaussian mechanism; a device's share of distributed noise). With deviation 0 it changes nothing.
public struct NoiseStage: Sendable {
    /// The standard deviation of the noise added to each coordinate.
    public var deviation: Double
    var random: SeededRandom

    /// A noise stage drawing from `seed`.
    public init(deviation: Double = 0, seed: UInt64 = 0x5EED) {
        precondition(deviation >= 0 && deviation.isFinite, "the noise deviation must be ≥ 0")
        self.deviation = deviation
        random = SeededRandom(seed: seed)
    }

    /// Adds the noise in place.
    public mutating func apply(_ delta: UnsafeMutableBufferPointer<Float>) {
        guard deviation > 0 else { return }
        for i in 0..<delta.count { delta[i] += Float(deviation * random.normal()) }
    }
}

/// The quantize stage: the chosen values in the wire's value encoding, and the values as the receiver will
/// decode them (which error feedback subtracts).
public struct QuantizeStage: Sendable, Hashable {
    /// The value encoding.
    public var encoding: ValueEncoding
    /// Stochastic rounding for int8 (unbiased; off: nearest, the smallest error).
    public var stochastic: Bool

    /// A quantize stage.
    public init(encoding: ValueEncoding, stochastic: Bool = false) {
        self.encoding = encoding
        self.stochastic = stochastic
    }

    /// What quantising `values` gives.
    public struct Output: Sendable {
        /// The values as the receiver will decode them.
        public var decoded: [Float]
        var wire: QuantizedValues
    }

    /// Quantises `values` (`random` feeds stochastic rounding).
    public func apply(_ values: [Float], random: inout SplitMix64) -> Output {
        let (wire, decoded) = ValueCodec.quantized(values, as: encoding, random: &random, stochastic: stochastic)
        return Output(decoded: decoded, wire: wire)
    }
}

/// The sign stage: appends a signature trailer to an encoded message. The flags' bit 1 is set, the signer
/// signs every byte before the trailer (header, body, metrics trailer, with that bit set), then come the trailer
/// (length u16, the algorithm byte, the signature) and a new CRC32C over everything before it. Without a signer
/// the message is left as it is. See ``SignedMessage`` for the receiving side.
public struct SignStage: Sendable {
    /// Who signs; nil: messages go unsigned.
    public var signer: (any MessageSigner)?

    /// A sign stage.
    public init(signer: (any MessageSigner)? = nil) {
        self.signer = signer
    }

    /// The message with its trailer.
    public func apply(_ message: [UInt8]) -> [UInt8] {
        guard let signer else { return message }
        return SignedMessage.sign(message, with: signer)
    }
}
