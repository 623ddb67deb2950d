public import Federation
import Foundation
public import Logging
import OnlineLearning
import Trust
import UpdateCodec

/// A message for the broker.
public struct Outgoing: Sendable, Hashable {
    /// Topic.
    public var topic: String
    /// Payload.
    public var payload: [UInt8]
    /// Retained.
    public var retain: Bool

    /// Creates a message (always QoS 1).
    public init(topic: String, payload: [UInt8], retain: Bool = false) {
        self.topic = topic
        self.payload = payload
        self.retain = retain
    }
}

/// The aggregator without its transport: updates and statuses in, messages out, state durable in SQLite and
/// checkpoint files. ``AggregatorService`` feeds it from MQTT; tests and `tributary-bench aggregate` feed it
/// directly. Not thread-safe: one task drives it.
///
/// Updates are handled in batches: ``receive(update:topic:now:)`` validates and stages each one (folding accepted
/// ones into the round's aggregate), ``commit(now:)`` makes the batch durable in one transaction and only then
/// returns the acknowledgements, followed by whatever the round logic decided (aggregate, announce…).
public final class AggregatorCore {
    let config: AggregatorConfig
    let spec: TaskSpec
    let topics: Topics
    let store: StateStore
    let checkpoints: CheckpointStore
    let logger: Logger
    let metrics: AggregatorMetrics
    var machine: RoundMachine
    var aggregator: RoundAggregator
    /// The aggregator's own model (every update applied in full).
    var model: [Float]
    /// With a sparse downlink (`codec.downlink_k_fraction` < 1): what devices hold, advanced each round by the
    /// delta they receive; the rest of the change waits in `model − broadcast` (error feedback on the downlink).
    var downlink: ModelDeltaStream?
    var optimizer: ServerOptimizerState
    var decoder: UpdateDecoder
    var encoder: UpdateEncoder
    /// The batch being staged.
    var stagedAccepted: [StateStore.AcceptedUpdate] = []
    var stagedRejected: [StateStore.Rejection] = []
    var stagedAcks: [Outgoing] = []
    var deferred: [RoundMachine.Action] = []
    /// The one duplicate check.
    var duplicates: DuplicateFilter
    /// When the current round was announced (ms), and update bytes it received.
    var roundStarted: Int64 = 0
    var roundBytes = 0
    var roundRejected: [String: Int] = [:]
    /// Hold-out accuracies the round's accepted updates reported (for the model they trained from).
    var roundAccuracies: [String: Double] = [:]
    /// The last metrics published.
    public internal(set) var lastMetrics: RoundMetrics?
    /// Whether `maxRounds` was reached.
    public internal(set) var finished = false
    /// Single, shard or root.
    let role: AggregatorRole
    /// Shard: the root's round announcement being followed.
    var following: RoundAnnouncement?
    /// Shard: publication counter and timing of partials.
    var partialSeq: UInt64 = 0
    var lastPartialAt: Int64 = 0
    var partialDirty = false
    /// Root: the latest partial of each shard for the current round.
    var latestPartials: [String: PartialMessage] = [:]
    /// Updates the last ``commit(now:)`` made durable.
    public internal(set) var lastCommitAccepted = 0
    /// Aggregated payloads are waiting to be deleted.
    var payloadsToPrune = true
    /// Root: an aggregation waiting for shards' partials (after a restart), and until when.
    var rootPending: (round: UInt32, participants: [String], notAfter: Int64)?
    /// Central evaluation of each new model, when `evaluation.recording` is set.
    let evaluation: CentralEvaluation?
    /// Production mode: the signing key and the device registry (nil with `insecure: true`).
    let trust: AggregatorTrust?
    /// This state's federation epoch (in every specification, announcement, model and acknowledgement).
    public internal(set) var epoch: UInt64 = 0
    /// Development mode: the devices admitted so far (the device table), at most `limits.max_devices`.
    var admitted: Set<String> = []
    /// Development mode: devices refused because the table was full.
    var refusedAdmissions = 0
    /// The round announcement published last (republished with the other retained messages).
    var lastAnnouncement: Outgoing?
    /// The state directory's lock, held while the core lives.
    let lock: StateLock
    /// Rejections so far (``logRejection(_:)`` logs the first ones, then one in a thousand).
    var rejectionsLogged = 0
    /// The round at which the history was last pruned.
    var historyPrunedAt: UInt32 = 0

    /// Opens the state in `config.stateDir` and restores the task if it was served before. The state
    /// directory's lock is held for the core's life: `lock` if the caller took it, else it is taken here (and a
    /// directory another aggregator holds throws ``StateError`` `locked`).
    public init(config: AggregatorConfig, metrics: AggregatorMetrics, logger: Logger, lock: StateLock? = nil) throws {
        self.config = config
        role = config.role
        spec = config.task.hash == nil ? config.task.sealed() : config.task
        topics = Topics(prefix: config.prefix, task: spec.task)
        self.logger = logger
        self.metrics = metrics
        try makeDirectory(config.stateDir)
        self.lock = try lock ?? StateLock(directory: config.stateDir)
        store = try StateStore(path: config.stateDir + "/aggregator.sqlite")
        if config.insecure {
            trust = nil
        } else {
            guard let key = config.trust.signingKey, let registry = config.trust.registry else {
                throw TrustError(.file, "production mode needs trust.signing_key and trust.registry")
            }
            trust = try AggregatorTrust(
                signingKey: key, registry: registry, store: store, logger: logger,
                now: Int64(Date().timeIntervalSince1970 * 1_000))
        }
        duplicates = DuplicateFilter(store: store, task: spec.task)
        checkpoints = try CheckpointStore(directory: config.stateDir + "/checkpoints")
        decoder = try UpdateDecoder()
        encoder = try UpdateEncoder(level: spec.codec.zstdLevel)
        let dimension = spec.dimension
        aggregator = RoundAggregator(config: config.strategy, dimension: dimension)
        if let recording = config.evaluation.recording {
            do { evaluation = try CentralEvaluation(recording: recording, spec: spec) } catch {
                throw CentralEvaluation.Failure(description: "evaluation.recording: \(error)")
            }
            logger.info("central evaluation on \(evaluation!.count) labelled windows of \(recording)")
        } else {
            evaluation = nil
        }
        if let record = try store.task(spec.task) {
            guard let stored = try? TaskSpec.decode(record.spec), stored.hash == spec.hash else {
                throw StateError(
                    .conflict,
                    "\(config.stateDir) holds task '\(spec.task)' with another specification; use another state_dir or task id"
                )
            }
            let checkpoint = try checkpoints.read(record.checkpoint ?? checkpoints.path(task: spec.task, round: 0))
            model = checkpoint.model
            downlink =
                Self.sparseDownlink(spec) ? ModelDeltaStream(initial: checkpoint.broadcast ?? checkpoint.model) : nil
            optimizer = checkpoint.optimizer
            let snapshot = record.machine.flatMap {
                try? JSONDecoder().decode(RoundMachine.Snapshot.self, from: Data($0))
            }
            machine =
                snapshot.map { RoundMachine(configuration: config.machineConfiguration, restoring: $0) }
                ?? RoundMachine(
                    configuration: config.machineConfiguration, round: record.modelRound,
                    modelHash: ModelHash.of(downlink?.deviceModel ?? model))
            try rebuildAggregate()
            machine.restoreAccepted(
                try store.pendingUpdates(task: spec.task).map { .init(device: $0.device, round: $0.round) })
            logger.info(
                "resuming task \(spec.task) at round \(machine.round) (\(machine.phase)), \(aggregator.count) updates pending"
            )
        } else {
            model = spec.model.network.initialParameters(seed: spec.model.initSeed)
            downlink = Self.sparseDownlink(spec) ? ModelDeltaStream(initial: model) : nil
            optimizer = ServerOptimizerState(dimension: 0)
            machine = RoundMachine(configuration: config.machineConfiguration, round: 0, modelHash: ModelHash.of(model))
            let path = try checkpoints.write(Checkpoint(round: 0, model: model, optimizer: optimizer), task: spec.task)
            try store.saveTask(spec.task, spec: spec.json, machine: snapshotJSON, modelRound: 0, checkpoint: path)
            logger.info("new task \(spec.task): \(dimension) parameters, \(config.strategy.kind.rawValue)")
        }
        for update in try store.pendingUpdates(task: spec.task) {
            duplicates.insert(round: update.round, device: update.device)
        }
        epoch = try store.epoch(task: spec.task)
        admitted = trust == nil ? try store.knownDevices() : []
        logger.info("federation epoch \(HexHash(epoch))")
    }

    /// The machine's snapshot without its accepted updates (those are the durable updates beyond the watermark):
    /// small, and written only when rounds change.
    var snapshotJSON: [UInt8] {
        var snapshot = machine.snapshot
        snapshot.accepted = []
        return Array((try? JSONEncoder().encode(snapshot)) ?? Data())
    }

    /// Folds the durable, not yet aggregated updates back into the aggregate (after a restart).
    func rebuildAggregate() throws {
        aggregator.reset()
        roundAccuracies = [:]
        for pending in try store.pendingUpdates(task: spec.task) {
            let decoded: DecodedUpdate
            do { decoded = try pending.payload.withUnsafeBytes { try decoder.decode($0) } } catch {
                throw StateError(.corrupt, "a stored update of \(pending.device) no longer decodes", underlying: error)
            }
            if let accuracy = decoded.header.metrics[UpdateFormat.Metric.holdoutAccuracy] {
                roundAccuracies[pending.device] = Double(accuracy)
            }
            do {
                try aggregator.add(
                    ClientUpdate(
                        device: pending.device, indices: decoded.indices, values: decoded.values,
                        weight: pending.weight,
                        staleness: pending.staleness))
            } catch {
                throw StateError(.corrupt, "a stored update of \(pending.device) is invalid", underlying: error)
            }
        }
    }

    /// The state database (for tools and tests that inspect what was recorded).
    public var stateStore: StateStore { store }
    /// The current round (model version).
    public var round: UInt32 { machine.round }
    /// The round machine's phase.
    public var phase: RoundMachine.Phase { machine.phase }
    /// The current global model (the aggregator's own; see ``broadcast`` for what devices hold).
    public var parameters: [Float] { model }
    /// The model devices hold and train from: the aggregator's own, or with a sparse downlink the one the
    /// deltas have built.
    public var broadcast: [Float] { downlink?.deviceModel ?? model }

    /// Whether the task's downlink sends sparse deltas.
    static func sparseDownlink(_ spec: TaskSpec) -> Bool { spec.codec.downlinkKFraction < 1 }
    /// Accepted updates in the current round (buffer).
    public var pendingCount: Int { aggregator.count }
    /// The task specification served.
    public var task: TaskSpec { spec }

    /// Starts (or resumes): the retained messages to (re)publish and the round to announce. A shard publishes
    /// nothing: it follows the root's announcements.
    public func start(now: Int64) throws -> [Outgoing] {
        if role.shardID != nil { return [] }
        let actions = machine.handle(.start(now: now))
        var out = [specMessage, try modelMessage()]
        if let last = try store.recentMetrics(task: spec.task, limit: 1).first {
            out.append(Outgoing(topic: topics.metrics, payload: last, retain: true))
            lastMetrics = try? RoundMetrics.decode(last)
        }
        out += try perform(actions, now: now)
        try store.saveMachine(task: spec.task, machine: snapshotJSON)
        return sealed(out)
    }

    /// The retained messages as this state has them (specification, model, the current announcement, the last
    /// metrics), to publish again after the broker lost or restored them (a reconnect, a stale copy seen).
    public func retained() throws -> [Outgoing] {
        if role.shardID != nil { return [] }
        var out = [specMessage, try modelMessage()]
        if let lastAnnouncement { out.append(lastAnnouncement) }
        if let lastMetrics { out.append(Outgoing(topic: topics.metrics, payload: lastMetrics.json, retain: true)) }
        return sealed(out)
    }

    /// The retained specification, with this state's epoch.
    var specMessage: Outgoing {
        var published = spec
        published.epoch = HexHash(epoch)
        return Outgoing(topic: topics.spec, payload: published.json, retain: true)
    }

    /// Whether `device` is one this aggregator knows: enrolled (production), or admitted to the device table
    /// (development). Only known devices get rows, acknowledgements and a place among the online.
    func isKnown(_ device: String) -> Bool {
        if let trust { return trust.isEnrolled(device) }
        return admitted.contains(device)
    }

    /// Development mode: admits `device` to the device table if it is there already or there is room
    /// (`limits.max_devices`); production admits only enrolled devices.
    func admit(_ device: String) -> Bool {
        if let trust { return trust.isEnrolled(device) }
        if admitted.contains(device) { return true }
        guard admitted.count < config.limits.maxDevices else {
            refusedAdmissions += 1
            if refusedAdmissions <= 3 || refusedAdmissions % 1_000 == 0 {
                logger.warning(
                    "refused \(device): limits.max_devices (\(config.limits.maxDevices)) devices are known already (\(refusedAdmissions) refusals)"
                )
            }
            return false
        }
        admitted.insert(device)
        return true
    }

    /// Messages as they go out: signed in production (a batch's acknowledgements on every core).
    func sealed(_ messages: [Outgoing]) -> [Outgoing] {
        guard let trust else { return messages }
        return Parallel.map(messages) { trust.sign($0) }
    }

    /// Production: the registry and signature checks of a batch of updates, on every core (they are the costly
    /// part of an update, and independent), for ``receive(update:topic:now:checked:)``. An entry is nil where
    /// the check is left to `receive` (development mode, a topic without a valid device, an oversized payload).
    public func checkSignatures(_ updates: [(topic: String, payload: [UInt8])]) -> [SignatureCheck?] {
        guard let trust else { return Array(repeating: nil, count: updates.count) }
        let topics = topics
        let limit = config.limits.maxUpdateBytes
        return Parallel.map(updates) { update in
            guard let device = topics.device(inUpdateTopic: update.topic), Topics.isValidID(device),
                update.payload.count <= limit
            else { return nil }
            return SignatureCheck(
                device: device, refusal: update.payload.withUnsafeBytes { trust.check(update: $0, device: device) })
        }
    }

    /// The signed body of a message from another aggregator of the federation (nil, logged, when it does not
    /// verify); in development mode the message itself, with any `sig` member skipped.
    func openAggregatorJSON(_ payload: [UInt8], what: String) -> [UInt8]? {
        guard let trust else { return SignedJSON.open(payload).body }
        switch trust.open(aggregatorJSON: payload) {
        case .success(let body): return body
        case .failure(let refusal):
            logger.warning("ignoring a \(what): \(refusal.rawValue)")
            return nil
        }
    }

    /// Housekeeping for idle moments: frees the stored payloads of aggregated updates, and every hundred rounds
    /// the history older than `limits.keep_rounds`.
    public func idle() {
        guard payloadsToPrune else { return }
        payloadsToPrune = false
        do { try store.prunePayloads(task: spec.task) } catch { logger.warning("pruning payloads: \(error)") }
        // A shard's rounds are the root's it follows.
        let current = role.shardID != nil ? following?.round ?? 0 : machine.round
        guard current >= historyPrunedAt + 100 else { return }
        historyPrunedAt = current
        do {
            try store.pruneHistory(task: spec.task, currentRound: current, keep: config.limits.keepRounds)
        } catch {
            logger.warning("pruning the history: \(error)")
        }
    }

    /// The retained model message; its round is the round that trains on it (after round r: r + 1, even when no
    /// round r + 1 follows).
    func modelMessage(round: UInt32? = nil) throws -> Outgoing {
        let bytes = try encoder.encodeModel(
            task: spec.task, round: round ?? machine.round, parameters: broadcast, epoch: epoch)
        return Outgoing(topic: topics.model, payload: bytes, retain: true)
    }
}
