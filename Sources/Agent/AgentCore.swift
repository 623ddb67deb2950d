public import Federation
import OnlineLearning
public import StreamCore
import UpdateCodec

/// The agent without its transport: frames in (through a frame ring), windows and features, an online model
/// trained continuously (prequential metrics, every Nth window held out), and for each round it is selected
/// for, local training from the global model and a sparse update with error feedback.
///
/// Not thread-safe: one task drives it; sources write frames into ``ring`` through their own producer.
public final class AgentCore {
    /// Device id.
    public let device: String
    /// The frame ring sources write into.
    public let ring: FrameRing
    var consumer: FrameRing.Consumer
    /// Every Nth window is held out (evaluated, never trained on).
    public let holdoutEvery: Int
    /// Windows kept for round training.
    public let bufferCapacity: Int

    /// The task in force (from the aggregator's retained specification, or given).
    public private(set) var spec: TaskSpec?
    var learner: OnlineLearner?
    var evaluator: StreamEvaluator?
    var windower: Windower?
    var extractor: FeatureExtractor?
    var features: [Float] = []
    /// Every channel's features of the current window (the task's channels are picked from it into `features`).
    var extracted: [Float] = []
    var buffer = WindowBuffer(capacity: 1, dimension: 1)
    var holdout = WindowBuffer(capacity: 1, dimension: 1)
    var feedback: ErrorFeedback?
    var encoder: UpdateEncoder
    var decoder: UpdateDecoder
    /// The global model adopted last: its round and hash.
    public internal(set) var globalRound: UInt32 = 0
    /// Its hash.
    public internal(set) var globalHash: UInt64 = 0
    var globalParameters: [Float] = []
    /// Rounds this agent sent an update for.
    public internal(set) var lastSentRound: UInt32 = 0
    /// Counters.
    public private(set) var counters = Counters()
    /// Hold-out accuracy of the global model adopted last (on this device's held-out windows).
    public private(set) var globalHoldoutAccuracy: Double?
    /// Streaming summary of the frames seen since ``takeSummary()`` (statistics, EWMA, quantile sketches).
    var summary: StreamSummary
    var summaryStart = Int64.max
    var summaryEnd = Int64.min

    /// What the agent counted.
    public struct Counters: Sendable, Hashable, Codable {
        /// Frames taken from the ring.
        public var frames = 0
        /// Windows made.
        public var windows = 0
        /// Windows without a valid label (skipped by training).
        public var unlabelled = 0
        /// Updates built.
        public var updates = 0
        /// Update bytes built.
        public var updateBytes = 0
        /// Global models adopted.
        public var models = 0
        /// Model bytes received.
        public var modelBytes = 0
    }

    /// An agent whose ring takes frames of `channels` channels.
    /// With `backpressure`, a full ring refuses new frames (a recording source waits) instead of dropping the
    /// oldest (what a live source must do).
    public init(
        device: String, channels: Int, ringFrames: Int = 8_192, holdoutEvery: Int = 5, bufferCapacity: Int = 2_000,
        backpressure: Bool = false
    ) throws {
        self.device = device
        ring = FrameRing(capacity: ringFrames, channels: channels, policy: backpressure ? .rejectNewest : .dropOldest)
        consumer = ring.makeConsumer()
        self.holdoutEvery = holdoutEvery
        self.bufferCapacity = bufferCapacity
        summary = StreamSummary(channels: channels, ewmaAlpha: 0.01, sketchK: 64)
        encoder = try UpdateEncoder(level: 3)
        decoder = try UpdateDecoder()
    }

    /// Takes a task specification (a new one resets the model and the residual). Throws if the stream cannot
    /// feed it.
    public func configure(_ spec: TaskSpec) throws(ProtocolError) {
        guard spec.hash != self.spec?.hash else { return }
        let channels = ring.channels
        guard spec.data.channels.allSatisfy({ $0 < channels }), spec.data.labelChannel.map({ $0 < channels }) ?? true
        else {
            throw ProtocolError(.invalidField, "the task reads channels the \(channels)-channel stream does not have")
        }
        guard spec.data.windowFrames <= ring.capacity else {
            throw ProtocolError(.invalidField, "windows of \(spec.data.windowFrames) frames exceed the ring")
        }
        let window: WindowSpec
        do { window = try .sliding(frames: spec.data.windowFrames, hop: spec.data.hopFrames) } catch {
            throw ProtocolError(.invalidField, "\(error)")
        }
        let network = spec.model.network
        let optimizer: Optimizer = spec.training.optimizer == "sgd" ? .sgd(momentum: 0) : .adam
        var configuration = TrainingConfiguration(
            optimizer: optimizer, schedule: .constant(Float(spec.training.learningRate)), l2: Float(spec.training.l2))
        configuration.proximalMu = 0
        learner = OnlineLearner(
            network: network, configuration: configuration, seed: spec.model.initSeed,
            standardize: spec.training.standardize)
        let classes = spec.model.head == .softmax ? spec.model.outputs : 2
        evaluator = StreamEvaluator(classes: classes, outputs: spec.model.outputs, holdoutEvery: holdoutEvery)
        windower = Windower(spec: window)
        extractor = FeatureExtractor(channels: channels, features: spec.data.features.compactMap(Feature.init))
        features = [Float](repeating: 0, count: spec.data.inputCount)
        extracted = [Float](repeating: 0, count: extractor!.dimension)
        buffer = WindowBuffer(capacity: bufferCapacity, dimension: spec.data.inputCount)
        holdout = WindowBuffer(
            capacity: Swift.max(1, bufferCapacity / Swift.max(1, holdoutEvery)), dimension: spec.data.inputCount)
        feedback = ErrorFeedback(dimension: network.parameterCount)
        globalParameters = learner!.parameters
        globalHash = ModelHash.of(globalParameters)
        globalRound = 0
        lastSentRound = 0
        self.spec = spec
    }

    /// Makes windows of what the ring holds and learns from them; returns the windows made.
    @discardableResult
    public func process() -> Int {
        guard let spec, var windower, var extractor, var learner, var evaluator else {
            // No task yet. A recording source waits on the full ring (its frames are kept for the task); a live
            // source's stale frames are dropped so the task starts on fresh ones.
            guard ring.policy == .dropOldest else { return 0 }
            let waiting = consumer.available()
            if waiting > 0 {
                _ = consumer.acquire(waiting)
                consumer.release(waiting)
                counters.frames += waiting
            }
            return 0
        }
        let channels = ring.channels
        let classes = spec.model.head == .softmax ? spec.model.outputs : 2
        var made = 0
        var all = extracted
        extracted = []  // so `all` holds the only reference and is written in place
        windower.drain(&consumer, ring: ring) { window in
            all.withUnsafeMutableBufferPointer { extractor.extract(window.segments, into: $0) }
            all.withUnsafeBufferPointer { x in
                features.withUnsafeMutableBufferPointer { spec.data.select(x, channels: channels, into: $0) }
            }
            made += 1
            // Frames new to this window: all of the first one's, then the hop's worth at its end.
            let fresh = window.index == 0 ? window.frames : Swift.min(window.frames, spec.data.hopFrames)
            counters.frames += fresh
            summarize(window, last: fresh)
            guard let label = spec.data.label(of: window, channels: channels, classes: classes) else {
                counters.unlabelled += 1
                return
            }
            features.withUnsafeBufferPointer { x in
                let heldOut = evaluator.process(x, target: .label(label), learner: &learner)
                if heldOut { holdout.append(x, label: label) } else { buffer.append(x, label: label) }
            }
        }
        counters.windows += made
        self.windower = windower
        self.extractor = extractor
        self.learner = learner
        self.evaluator = evaluator
        extracted = all
        return made
    }

    /// Adds the last `count` frames of a window to the summary (no array per window: this runs for each one).
    func summarize(_ window: Windower.Window, last count: Int) {
        let first = window.segments.0.count
        let skip = window.frames - count
        if skip < first { summarize(window.segments.0, from: skip) }
        if window.segments.1.count > 0 { summarize(window.segments.1, from: Swift.max(0, skip - first)) }
    }

    func summarize(_ segment: FrameRing.Segment, from start: Int) {
        guard start < segment.count else { return }
        summary.add(
            UnsafeBufferPointer(rebasing: segment.values[(start * ring.channels)...]), frames: segment.count - start)
        summaryStart = Swift.min(summaryStart, segment.timestamps[start])
        summaryEnd = Swift.max(summaryEnd, segment.timestamps[segment.count - 1] &+ 1)
    }

    /// The summary of the frames since the last call, as `{prefix}/dev/{device}/summary` JSON, and a fresh one
    /// started; nil when no frame came.
    public func takeSummary(stream: String) -> String? {
        guard summary.stats.first.map({ $0.count > 0 }) == true else { return nil }
        let json = summary.json(
            SummaryContext(device: device, stream: stream, start: summaryStart, end: summaryEnd))
        summary.reset()
        summaryStart = .max
        summaryEnd = .min
        return json
    }

    /// Prequential and hold-out accuracy of the continuously trained local model so far.
    public var localAccuracy: (prequential: Double, holdout: Double)? {
        evaluator.map { ($0.prequential.accuracy, $0.holdout.accuracy) }
    }

    /// Windows available for round training.
    public var bufferedWindows: Int { buffer.count }

    /// Takes a global model message: adopts it if it is for this task (returns its round), evaluating it on the
    /// held-out windows.
    @discardableResult
    public func adopt(model payload: [UInt8]) -> UInt32? {
        guard let spec, var learner else { return nil }
        guard
            let decoded = try? payload.withUnsafeBytes({
                try decoder.decode($0, expectedTask: spec.task, expectedDimension: spec.dimension)
            }),
            decoded.header.type == .denseModel
        else { return nil }
        let parameters = decoded.dense()
        // The header's hash is the parameters' (the decoder checked the message; this checks the content).
        guard ModelHash.of(parameters) == decoded.header.baseModelHash else { return nil }
        if decoded.header.baseModelHash == globalHash && globalRound != 0 { return globalRound }
        learner.adoptGlobal(parameters, proximal: false)
        globalParameters = parameters
        globalHash = decoded.header.baseModelHash
        globalRound = decoded.header.round
        counters.models += 1
        counters.modelBytes += payload.count
        globalHoldoutAccuracy = evaluate(&learner, on: holdout)
        self.learner = learner
        return globalRound
    }

    func evaluate(_ learner: inout OnlineLearner, on windows: WindowBuffer) -> Double? {
        guard windows.count > 0 else { return nil }
        var correct = 0
        for i in 0..<windows.count {
            windows.window(i) { x, label in if learner.predictClass(x) == label { correct += 1 } }
        }
        return Double(correct) / Double(windows.count)
    }

    /// For a round that selects this device and trains from the model it holds: local training from the global
    /// model on the buffered windows (FedProx μ from the round), then a sparse update with error feedback.
    /// Nil when the round is not for it, its model is not here yet, or there is nothing to train on.
    public func update(for round: RoundAnnouncement) throws -> [UInt8]? {
        guard let spec, var learner, var feedback, round.task == spec.task, round.includes(device),
            round.modelHash.value == globalHash, round.round > lastSentRound, buffer.count > 0
        else { return nil }
        let mu = Float(round.training.proxMu)
        var configuration = learner.configuration
        configuration.proximalMu = mu
        learner.configuration = configuration
        learner.adoptGlobal(globalParameters, proximal: mu > 0)
        let samples = Swift.min(round.training.samples, Swift.max(buffer.count, 1) * 4)
        // Windows spread over the whole buffer (not only the latest: a stream is rarely shuffled), starting at a
        // different place each round, cycling when the round asks for more than are held.
        let offset = Int(round.round &* 7_919) % buffer.count
        for step in 0..<samples {
            let i =
                (offset + step * buffer.count / Swift.max(1, Swift.min(samples, buffer.count)) + step / buffer.count)
                % buffer.count
            buffer.window(i) { x, label in _ = learner.train(x, target: .label(label)) }
        }
        var delta = [Float](repeating: 0, count: globalParameters.count)
        for i in delta.indices { delta[i] = learner.parameters[i] - globalParameters[i] }
        let share = round.training.kFraction ?? spec.codec.kFraction
        let k = Swift.min(delta.count, Swift.max(1, Int((Double(delta.count) * share).rounded())))
        let encoding = spec.codec.valueEncoding ?? .int8
        let compressed = delta.withUnsafeBufferPointer { feedback.compress($0, k: k, encoding: encoding) }
        let header = UpdateHeader(
            type: .update, task: spec.task, round: round.round, device: device, sampleWeight: UInt32(samples),
            dimension: delta.count, baseModelHash: globalHash)
        let payload = try encoder.encode(header, compressed)
        // Back to the global model until the next one arrives (the local steps live on in the residual only).
        learner.adoptGlobal(globalParameters, proximal: false)
        configuration.proximalMu = 0
        learner.configuration = configuration
        lastSentRound = round.round
        counters.updates += 1
        counters.updateBytes += payload.count
        self.learner = learner
        self.feedback = feedback
        return payload
    }
}
