public import Federation
import OnlineLearning
public import SensorFrames
public import StreamCore
public import TributaryWire
import UpdateCodec

/// The agent without its transport: frames in (through a frame ring, fed by a ``SensorIngest``), windows and
/// features, an online model trained continuously (prequential metrics, every Nth window held out), and for
/// each round it is selected for, local training from the global model and a sparse update through the update
/// pipeline. The round logic (outbox, acknowledgements, resends, which model to adopt) is the
/// ``AgentRoundMachine``'s; the I/O is ``AgentService``'s.
///
/// Not thread-safe: one loop drives it; sources write frames into ``ring`` through their own ingest.
public final class AgentCore {
    /// Device id.
    public let device: String
    /// The frame ring sources write into.
    public let ring: FrameRing
    /// What the sources' ingest counted (accepted, rejected by reason, duplicates, gaps, ring drops).
    public let ingest: IngestCounters
    var consumer: FrameRing.Consumer
    /// Every Nth window is held out (evaluated, never trained on).
    public let holdoutEvery: Int
    /// Windows kept for round training.
    public let bufferCapacity: Int
    /// Signs updates (production mode).
    let signer: (any MessageSigner)?
    /// The task's pipeline, once a specification has come.
    var task: TaskPipeline?
    /// Counters.
    public internal(set) var counters = Counters()
    /// Streaming summary of the frames seen since ``takeSummary(stream:)`` (statistics, EWMA, sketches).
    var summary: StreamSummary
    var summaryStart = Int64.max
    var summaryEnd = Int64.min
    var decoder: UpdateDecoder

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
        /// Of those, models made by applying a sparse delta to the model held.
        public var modelDeltas = 0
        /// Model bytes received.
        public var modelBytes = 0
        /// Model messages refused (another task, a wrong size, content not matching its hash).
        public var modelsRefused = 0
    }

    /// An agent whose ring takes frames of `channels` channels.
    /// With `backpressure`, a full ring refuses new frames (a recording source waits) instead of dropping the
    /// oldest (what a live source must do).
    public init(
        device: String, channels: Int, ringFrames: Int = 8_192, holdoutEvery: Int = 5, bufferCapacity: Int = 2_000,
        backpressure: Bool = false, signer: (any MessageSigner)? = nil
    ) throws {
        self.device = device
        self.signer = signer
        ring = FrameRing(capacity: ringFrames, channels: channels, policy: backpressure ? .rejectNewest : .dropOldest)
        ingest = IngestCounters(ring: ring)
        consumer = ring.makeConsumer()
        self.holdoutEvery = holdoutEvery
        self.bufferCapacity = bufferCapacity
        summary = StreamSummary(channels: channels, ewmaAlpha: 0.01, sketchK: 64)
        decoder = try UpdateDecoder()
    }

    /// An ingest that writes into this agent's ring and counts into ``ingest`` (make one per source thread).
    public func makeIngest(maxBytes: Int, onRejection: (@Sendable (WireError, Int) -> Void)? = nil) -> SensorIngest {
        SensorIngest(ring: ring, counters: ingest, maxBytes: maxBytes, onRejection: onRejection)
    }

    /// The task in force (from the aggregator's retained specification, or given).
    public var spec: TaskSpec? { task?.spec }

    /// Takes a task specification (a new one starts a new pipeline: model and residual reset). Throws if the
    /// stream cannot feed it.
    public func configure(_ spec: TaskSpec) throws(ProtocolError) {
        guard spec.hash != task?.spec.hash else { return }
        task = try TaskPipeline(
            spec: spec, channels: ring.channels, ringCapacity: ring.capacity, holdoutEvery: holdoutEvery,
            bufferCapacity: bufferCapacity, signer: signer)
    }

    /// Makes windows of what the ring holds and learns from them; returns the windows made.
    @discardableResult
    public func process() -> Int {
        guard let task else {
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
        let before = counters.windows
        task.process(&consumer, ring: ring, counters: &counters) { window, fresh in summarize(window, last: fresh) }
        return counters.windows - before
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
        task.map { ($0.evaluator.prequential.accuracy, $0.evaluator.holdout.accuracy) }
    }

    /// Windows available for round training.
    public var bufferedWindows: Int { task?.buffer.count ?? 0 }
    /// The round of the global model held.
    public var globalRound: UInt32 { task?.globalRound ?? 0 }
    /// Its hash.
    public var globalHash: UInt64 { task?.globalHash ?? 0 }
    /// The newest round an update was built for.
    public var lastSentRound: UInt32 { task?.lastSentRound ?? 0 }
    /// The round machine's memory of each federation epoch, and the epoch it follows: restored with the saved
    /// state, and set by the service before it saves.
    public var roundMemory: (memory: RoundMemory, epoch: UInt64) {
        get { task.map { ($0.memory, $0.epoch) } ?? (RoundMemory(), 0) }
        set {
            task?.memory = newValue.memory
            task?.epoch = newValue.epoch
        }
    }
    /// Hold-out accuracy of the global model adopted last (on this device's held-out windows).
    public var globalHoldoutAccuracy: Double? { task?.globalHoldoutAccuracy }

    /// A model message checked against the task: its round and hash, and its parameters; nil (counted) when it
    /// is not this task's dense model or its content does not match its hash.
    public func check(model payload: [UInt8]) -> CheckedModel? {
        guard let task else { return nil }
        guard
            let decoded = try? payload.withUnsafeBytes({
                try decoder.decode($0, expectedTask: task.spec.task, expectedDimension: task.spec.dimension)
            }),
            decoded.header.type == .denseModel
        else {
            counters.modelsRefused += 1
            return nil
        }
        let parameters = decoded.dense()
        // The header's hash is the parameters' (the decoder checked the message; this checks the content).
        guard ModelHash.of(parameters) == decoded.header.baseModelHash else {
            counters.modelsRefused += 1
            return nil
        }
        return CheckedModel(
            round: decoded.header.round, hash: decoded.header.baseModelHash, epoch: decoded.header.epoch ?? 0,
            parameters: parameters)
    }

    /// What a model delta means for the model held.
    public enum DeltaVerdict {
        /// It applies to the model held: the model it makes.
        case apply(CheckedModel)
        /// It is for another base (a delta was missed): take the full model.
        case needsFullModel
        /// Not for this task, damaged, or older than the model held: nothing to do.
        case ignore
    }

    /// A sparse model delta (`{p}/fl/{task}/model/delta`) checked against the model held.
    public func check(delta payload: [UInt8]) -> DeltaVerdict {
        guard let task else { return .ignore }
        guard
            let decoded = try? payload.withUnsafeBytes({
                try decoder.decode($0, expectedTask: task.spec.task, expectedDimension: task.spec.dimension)
            }),
            decoded.header.type == .sparseModelDelta
        else {
            counters.modelsRefused += 1
            return .ignore
        }
        // A delta to a model no newer than the one held was applied already (or skipped by a full model); one
        // of another epoch numbers its rounds afresh.
        let epoch = decoded.header.epoch ?? 0
        guard task.globalRound == 0 || decoded.header.round > task.globalRound || epoch != task.globalEpoch else {
            return .ignore
        }
        var parameters = task.global
        do { try decoded.apply(to: &parameters) } catch { return .needsFullModel }
        return .apply(
            CheckedModel(
                round: decoded.header.round, hash: ModelHash.of(parameters), epoch: epoch, parameters: parameters))
    }

    /// Adopts a checked model (see ``check(model:)``), evaluating it on the held-out windows.
    public func adopt(_ model: CheckedModel, bytes: Int, fromDelta: Bool = false) {
        guard let task else { return }
        task.adopt(model.parameters, round: model.round, hash: model.hash, epoch: model.epoch)
        counters.models += 1
        if fromDelta { counters.modelDeltas += 1 }
        counters.modelBytes += bytes
    }

    /// Checks and adopts a model message in one step (for tools and tests): its round, or nil when refused; a
    /// model already held is not adopted again.
    @discardableResult
    public func adopt(model payload: [UInt8]) -> UInt32? {
        guard let model = check(model: payload) else { return nil }
        if model.hash == globalHash && globalRound != 0 { return globalRound }
        adopt(model, bytes: payload.count)
        return model.round
    }

    /// For a round that selects this device and trains from the model it holds: local training from the global
    /// model on the buffered windows, then a sparse update. Nil when the round is not for it, its model is not
    /// here yet, it was sent already, or there is nothing to train on.
    public func update(for round: RoundAnnouncement) throws -> [UInt8]? {
        // Once per round is the round machine's rule (it knows the epoch the round belongs to).
        guard let task, round.task == task.spec.task, round.includes(device), round.modelHash.value == task.globalHash,
            task.buffer.count > 0
        else { return nil }
        let payload = try task.update(for: round, device: device)
        counters.updates += 1
        counters.updateBytes += payload.count
        return payload
    }
}

/// A model message (full, or made by a delta) that passed the task's checks: what the round machine decides on.
public struct CheckedModel: Sendable {
    /// The round that trains on it.
    public var round: UInt32
    /// The hash of its parameters.
    public var hash: UInt64
    /// Its federation epoch (0: not given).
    public var epoch: UInt64
    /// The parameters.
    public var parameters: [Float]
}
