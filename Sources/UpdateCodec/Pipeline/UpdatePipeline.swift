public import Zstd

/// A device's update from its model to the wire, as a row of small stages, each its own type with its own
/// tests: delta (``DeltaStage``) → clip (``ClipStage``) → noise (``NoiseStage``) → error feedback and top-k
/// (``ErrorFeedback``: residual in, the k largest out) → quantize (``QuantizeStage``) → error feedback settles
/// what was delivered → encode (``UpdateEncoder``) → sign (``SignStage``). A new stage (a privacy mechanism, a
/// different selection) is one more type and one more line in ``run(local:global:header:k:encoding:)``.
///
/// Owns the state that outlives one round: the residual, the noise generator, the encoder's zstd context.
public struct UpdatePipeline: ~Copyable {
    /// Clipping of the delta.
    public var clip: ClipStage
    /// Noise added to the (clipped) delta.
    public var noise: NoiseStage
    /// The residual of what was not sent yet, and the top-k selection over it.
    public var feedback: ErrorFeedback
    /// Signing of the encoded message.
    public var sign: SignStage
    var encoder: UpdateEncoder
    var delta: [Float]

    /// A pipeline for a model of `dimension` parameters.
    public init(
        dimension: Int, clip: ClipStage = ClipStage(), noise: NoiseStage = NoiseStage(),
        sign: SignStage = SignStage(), zstdLevel: Int = 3
    ) throws(ZstdError) {
        self.clip = clip
        self.noise = noise
        self.sign = sign
        feedback = ErrorFeedback(dimension: dimension)
        encoder = try UpdateEncoder(level: zstdLevel)
        delta = [Float](repeating: 0, count: dimension)
    }

    /// What one run produced.
    public struct Output: Sendable {
        /// The message to publish.
        public var message: [UInt8]
        /// Indices sent.
        public var indices: [UInt32]
        /// Values as the aggregator will decode them.
        public var values: [Float]
        /// The delta's L2 norm before clipping, and the clipping factor (1: not clipped).
        public var norm: Double
        /// The factor the clip stage applied.
        public var clipFactor: Float
    }

    /// Runs every stage: the update from `global` to `local`, `k` values in `encoding`, in a message with
    /// `header` (its k and encodings are filled in).
    public mutating func run(
        local: UnsafeBufferPointer<Float>, global: UnsafeBufferPointer<Float>, header: UpdateHeader, k: Int,
        encoding: ValueEncoding
    ) throws(ZstdError) -> Output {
        let clip = clip
        let (norm, factor) = delta.withUnsafeMutableBufferPointer { d in
            DeltaStage.apply(local: local, global: global, into: d)
            let clipped = clip.apply(d)
            noise.apply(d)
            return clipped
        }
        let compressed = delta.withUnsafeBufferPointer { feedback.compress($0, k: k, encoding: encoding) }
        let message = sign.apply(try encoder.encode(header, compressed))
        return Output(
            message: message, indices: compressed.indices, values: compressed.values, norm: norm, clipFactor: factor)
    }
}
