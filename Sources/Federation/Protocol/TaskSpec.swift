public import OnlineLearning
import StreamCore
public import UpdateCodec

/// What to learn, from which data, with which model and codec: the retained `{p}/fl/{task}/spec` message.
///
/// The application layer of a task: agents and aggregators run for months, and a new task reaches a fleet by
/// publishing a new specification. Its ``hash`` covers every other field (FNV-1a of the canonical JSON without
/// the hash); agents refuse a specification whose hash does not match and put the hash in nothing else.
public struct TaskSpec: Codable, Sendable, Hashable {
    /// The model: a network from `OnlineLearning`.
    public struct Model: Codable, Sendable, Hashable {
        /// `linear` (regression), `sigmoid` (binary), `softmax` (classes).
        public var head: Head
        /// Inputs (features per window).
        public var inputs: Int
        /// Outputs (classes for softmax, else 1).
        public var outputs: Int
        /// Hidden layer widths (empty: a linear model).
        public var hidden: [Int]
        /// Hidden activation.
        public var activation: Activation
        /// Seed of the initial parameters (every participant starts from the same model).
        public var initSeed: UInt64

        /// Creates a model description.
        public init(
            head: Head, inputs: Int, outputs: Int = 1, hidden: [Int] = [], activation: Activation = .relu,
            initSeed: UInt64 = 1
        ) {
            self.head = head
            self.inputs = inputs
            self.outputs = outputs
            self.hidden = hidden
            self.activation = activation
            self.initSeed = initSeed
        }

        /// The network (after ``TaskSpec/validate()``).
        public var network: Network {
            Network(inputs: inputs, hidden: hidden, activation: activation, head: head, outputs: outputs)
        }
    }

    /// Which stream feeds the task, how it is windowed, and which features are computed per channel.
    public struct Data: Codable, Sendable, Hashable {
        /// Sensor stream name (the topic's last level).
        public var stream: String
        /// Channels used, by index in the stream's frames.
        public var channels: [Int]
        /// The label channel's index, for supervised tasks.
        public var labelChannel: Int?
        /// Window length in frames.
        public var windowFrames: Int
        /// Hop between windows in frames.
        public var hopFrames: Int
        /// Features per channel (`mean`, `std`, `min`, `max`, `rms`, `energy`, `zcr`, `q25`…).
        public var features: [String]

        /// Creates a data description.
        public init(
            stream: String, channels: [Int], labelChannel: Int? = nil, windowFrames: Int, hopFrames: Int,
            features: [String]
        ) {
            self.stream = stream
            self.channels = channels
            self.labelChannel = labelChannel
            self.windowFrames = windowFrames
            self.hopFrames = hopFrames
            self.features = features
        }

        /// Inputs the model gets: channels × features.
        public var inputCount: Int { channels.count * features.count }
    }

    /// Local training on devices.
    public struct Training: Codable, Sendable, Hashable {
        /// `sgd` or `adam`.
        public var optimizer: String
        /// Learning rate.
        public var learningRate: Double
        /// L2 penalty.
        public var l2: Double
        /// Standardise inputs with running statistics.
        public var standardize: Bool

        /// Creates a training description.
        public init(optimizer: String = "adam", learningRate: Double = 0.005, l2: Double = 0, standardize: Bool = true)
        {
            self.optimizer = optimizer
            self.learningRate = learningRate
            self.l2 = l2
            self.standardize = standardize
        }
    }

    /// How updates and models travel.
    public struct Codec: Codable, Sendable, Hashable {
        /// Fraction of parameters each update carries (top-k with error feedback), in (0, 1].
        public var kFraction: Double
        /// `float32`, `float16`, `int8` or `ternary`.
        public var values: String
        /// zstd level of updates.
        public var zstdLevel: Int
        /// Fraction of parameters in downlink model deltas, in (0, 1]; 1 sends the dense model only.
        public var downlinkKFraction: Double

        /// Creates a codec description.
        public init(kFraction: Double = 0.1, values: String = "int8", zstdLevel: Int = 3, downlinkKFraction: Double = 1)
        {
            self.kFraction = kFraction
            self.values = values
            self.zstdLevel = zstdLevel
            self.downlinkKFraction = downlinkKFraction
        }

        /// The value encoding.
        public var valueEncoding: ValueEncoding? { ValueEncoding.allCases.first { "\($0)" == values } }
    }

    /// Format version.
    public var v: Int = 1
    /// Task id.
    public var task: String
    /// The model.
    public var model: Model
    /// The data pipeline.
    public var data: Data
    /// Local training.
    public var training: Training
    /// The codec.
    public var codec: Codec
    /// FNV-1a of the canonical JSON of everything else (16 hex digits).
    public var hash: HexHash?
    /// The federation epoch of the aggregator state that publishes it (not part of the hash: the same task in
    /// a new state is the same task).
    public var epoch: HexHash?

    /// Creates a specification; call ``sealed()`` to set its hash.
    public init(task: String, model: Model, data: Data, training: Training = Training(), codec: Codec = Codec()) {
        self.task = task
        self.model = model
        self.data = data
        self.training = training
        self.codec = codec
    }

    /// Parameters of the model.
    public var dimension: Int { model.network.parameterCount }

    /// The hash of the content (every field but ``hash`` and ``epoch``).
    public var contentHash: UInt64 {
        var unsealed = self
        unsealed.hash = nil
        unsealed.epoch = nil
        return ControlJSON.fnv1a(ControlJSON.encode(unsealed))
    }

    /// A copy with ``hash`` set.
    public func sealed() -> TaskSpec {
        var copy = self
        copy.hash = HexHash(contentHash)
        return copy
    }

    /// Checks every field; throws the first problem.
    public func validate() throws(ProtocolError) {
        guard v == 1 else { throw ProtocolError(.unsupportedVersion, "task specification version \(v)") }
        guard Topics.isValidID(task) else { throw ProtocolError(.invalidField, "task id '\(task)'") }
        let m = model
        guard (1...1_000_000).contains(m.inputs), (1...100_000).contains(m.outputs),
            m.hidden.allSatisfy({ (1...100_000).contains($0) }), m.hidden.count <= 8
        else { throw ProtocolError(.invalidField, "model sizes") }
        guard m.head == .softmax ? m.outputs >= 2 : m.outputs == 1 else {
            throw ProtocolError(.invalidField, "a \(m.head) head with \(m.outputs) outputs")
        }
        var count = m.inputs
        var parameters = 0
        for width in m.hidden + [m.outputs] {
            parameters += width * count + width
            count = width
        }
        guard parameters <= 100_000_000 else { throw ProtocolError(.invalidField, "\(parameters) parameters") }
        let d = data
        guard !d.stream.isEmpty, !d.channels.isEmpty, d.channels.allSatisfy({ (0..<1_024).contains($0) }) else {
            throw ProtocolError(.invalidField, "data stream or channels")
        }
        guard d.windowFrames >= 2, (1...d.windowFrames).contains(d.hopFrames) else {
            throw ProtocolError(.invalidField, "window of \(d.windowFrames) frames, hop \(d.hopFrames)")
        }
        guard !d.features.isEmpty, d.features.allSatisfy({ Feature($0) != nil }) else {
            throw ProtocolError(.invalidField, "features \(d.features)")
        }
        guard d.inputCount == m.inputs else {
            throw ProtocolError(
                .invalidField, "\(d.channels.count) channels × \(d.features.count) features ≠ \(m.inputs) inputs")
        }
        if let label = d.labelChannel, !(0..<1_024).contains(label) || d.channels.contains(label) {
            throw ProtocolError(.invalidField, "label channel \(label)")
        }
        guard ["sgd", "adam"].contains(training.optimizer), training.learningRate > 0, training.learningRate.isFinite,
            training.l2 >= 0, training.l2.isFinite
        else { throw ProtocolError(.invalidField, "training settings") }
        guard codec.kFraction > 0, codec.kFraction <= 1, codec.valueEncoding != nil, (1...19).contains(codec.zstdLevel),
            codec.downlinkKFraction > 0, codec.downlinkKFraction <= 1
        else { throw ProtocolError(.invalidField, "codec settings") }
        if let hash, hash.value != contentHash {
            throw ProtocolError(.hashMismatch, "spec hash \(hash) but its content hashes to \(HexHash(contentHash))")
        }
    }

    /// The JSON message.
    public var json: [UInt8] { ControlJSON.encode(self) }

    /// Parses and validates a message (its hash must match).
    public static func decode(_ bytes: some Collection<UInt8>) throws(ProtocolError) -> TaskSpec {
        let spec = try ControlJSON.decode(TaskSpec.self, from: bytes, what: "task specification")
        try spec.validate()
        guard spec.hash != nil else { throw ProtocolError(.hashMismatch, "task specification without a hash") }
        return spec
    }
}
