import BrokerConnection
import Federation
import Foundation
public import Logging
import MQTT
public import ServiceLifecycle
import Synchronization
import SystemSupport

/// `tributary-aggregator`'s rounds as a service: connects to the broker, subscribes to what its role takes in
/// (``AggregatorRole/inputs(_:limits:)``), and drives an ``AggregatorCore`` from one loop for every role. Messages
/// arrive in a bounded inbox (the network thread waits for room, then sheds: an unacknowledged update is resent
/// by its device); durable work (SQLite commits, checkpoints, round actions) runs on a dedicated thread, not the
/// cooperative pool. On graceful shutdown (SIGTERM) it stops taking messages, commits and acknowledges what it
/// holds, and exits; everything accepted is already durable, so a restart resumes the round.
public final class AggregatorService: Service, Sendable {
    let config: AggregatorConfig
    let logger: Logger
    /// The service's metrics.
    public let metrics: AggregatorMetrics
    let board: StatusBoard
    let inbox: Inbox<Item>
    /// Each device's budget of updates and statuses (``SenderBudget``).
    let budgets: [AggregatorRole.Input: SenderBudget]
    /// Set while the loop waits for room in the client's publish window. The PUBACKs that make room arrive through
    /// the network thread, so meanwhile it must not wait for room in the inbox (the loop is not taking): it sheds.
    let windowFull = Atomic<Bool>(false)
    let worker = WorkerThread()
    let failure = Mutex<(any Error)?>(nil)
    let accepted = Atomic<Int>(0)
    /// The batch being committed while the next one is received (see ``overlap(_:core:client:)``).
    let committing = Mutex<(batch: StagedBatch, commit: Task<Void, any Error>)?>(nil)
    /// The payload last published on each retained topic (to tell a stale copy on the broker from the current).
    let published = Mutex<[String: [UInt8]]>([:])
    /// When the retained messages were last published again (ms).
    let lastRepublish = Atomic<Int64>(0)
    /// Set by the broker watcher: the retained messages should go out again (see ``watchBroker``).
    let republishWanted = Atomic<Int>(0)
    var inFlight: (batch: StagedBatch, commit: Task<Void, any Error>)? {
        get { committing.withLock { $0 } }
        set { committing.withLock { $0 = newValue } }
    }

    /// A message taken in, as the network thread handed it over.
    enum Item: Sendable {
        case message(AggregatorRole.Input, topic: String, payload: [UInt8])
        /// A message over its kind's limit: only its size and first bytes were kept.
        case oversized(AggregatorRole.Input, topic: String, size: Int, prefix: [UInt8])
    }

    /// Creates the service; nothing happens until ``run()``. `board` receives the `/status` document.
    public init(
        config: AggregatorConfig, logger: Logger, metrics: AggregatorMetrics = AggregatorMetrics(),
        board: StatusBoard = StatusBoard()
    ) {
        self.config = config
        self.logger = logger
        self.metrics = metrics
        self.board = board
        inbox = Inbox(capacity: config.limits.inboxMessages, maxBytes: config.limits.inboxBytes)
        budgets = [
            .update: SenderBudget(burst: config.limits.updateBurst, perSecond: config.limits.updatesPerDeviceS),
            .status: SenderBudget(burst: config.limits.statusBurst, perSecond: config.limits.statusesPerDeviceS),
        ]
    }

    /// Messages dropped because their device was over its budget.
    public var rateLimited: Int { budgets.values.reduce(0) { $0 + $1.dropped.load(ordering: .relaxed) } }

    /// Updates accepted and durably committed since the service started (their acknowledgements follow).
    public var acceptedUpdates: Int { accepted.load(ordering: .acquiring) }

    /// The error that stopped the service, if one did.
    public var error: (any Error)? { failure.withLock { $0 } }

    /// Runs until shutdown or until `maxRounds` is reached.
    public func run() async throws {
        defer { worker.stop() }
        do {
            try await serve()
        } catch {
            failure.withLock { $0 = error }
            logger.critical("aggregator stopped: \(error)")
            throw error
        }
    }

    func serve() async throws {
        let role = config.role
        guard let lock = try await takeLock() else { return }
        let core = try await worker.run { [config, metrics, logger] in
            try AggregatorCore(config: config, metrics: metrics, logger: logger, lock: lock)
        }
        metrics.epoch.record(Int(core.epoch & 0xFFFF_FFFF))
        let topics = Topics(prefix: config.prefix, task: core.task.task)
        var configuration = try config.broker.mqttConfiguration(clientID: "tributary-aggregator", cleanSession: false)
        configuration.maxInFlight = 4_096
        configuration.reconnect = MQTTReconnectPolicy(minDelay: .milliseconds(100), maxDelay: .seconds(5))
        let client = try MQTTClient(configuration: configuration, logger: logger)
        // The same jittered back-off as the agent's: the broker may come up after the aggregator.
        client.start()
        guard try await waitForBroker(client) else {
            await client.disconnect()
            return
        }
        logger.info("connected to \(config.broker.address) as \(configuration.clientID)")
        let watchers = watchBroker(client, topics: topics, role: role)
        defer { watchers.cancel() }
        let inbox = self.inbox
        let budgets = self.budgets
        for (filter, input, limit) in role.inputs(topics, limits: config.limits) {
            try await client.subscribe(filter, qos: .atLeastOnce) { topic, payload in
                let name = String(cString: topic)
                // One device's flood stops here, before it costs a check, a place in the inbox or an answer.
                if let budget = budgets[input], !budget.allow(name, now: Self.now()) { return }
                // An oversized message is never copied whole: its size and first bytes tell the sender why.
                let item: Item =
                    payload.count <= limit
                    ? .message(input, topic: name, payload: Array(payload))
                    : .oversized(input, topic: name, size: payload.count, prefix: Array(payload.prefix(128)))
                let wait: Duration = self.windowFull.load(ordering: .acquiring) ? .zero : .milliseconds(100)
                inbox.put(item, bytes: Swift.min(payload.count, limit), waitForRoom: wait)
            }
        }

        try await publish(try await worker.run { try core.start(now: Self.now()) }, client)
        updateStatus(core)
        await withGracefulShutdownHandler {
            do {
                while !Task.isCancelled && !core.finished && !inbox.isClosed {
                    try await self.pass(core: core, client: client, role: role)
                }
            } catch {
                self.failure.withLock { $0 = error }
            }
        } onGracefulShutdown: {
            inbox.close()
        }
        // Whatever arrived before the shutdown is committed and acknowledged.
        if error == nil {
            do {
                try await settle(core: core, client: client)
                try await receive(inbox.takeNow() ?? [], core: core, client: client, now: Self.now())
                try await commit(core: core, client: client, overlap: false)
            } catch {
                failure.withLock { $0 = $0 ?? error }
            }
        }
        _ = await client.drain(timeout: .seconds(10))
        await client.disconnect()
        if let error { throw error }
        logger.info("aggregator stopped at round \(core.round) (\(core.phase))")
    }

    /// One pass of the loop, the same for every role: take a batch of messages, hand them to the core, let
    /// time pass (deadlines, a root's wait), commit, publish what follows (a shard's partial last, once what it
    /// sums is durable).
    func pass(core: AggregatorCore, client: MQTTClient, role: AggregatorRole) async throws {
        // While a batch is being committed, look again soon: its acknowledgements wait for us.
        var items = await inbox.take(timeout: .milliseconds(inFlight == nil ? 100 : 1), max: 512)
        if items.isEmpty { try await worker.run { core.idle() } }
        // Group commit: gather up to 5 ms (or 512 messages) behind the first, so one transaction and one fsync
        // cover many updates under load; an idle aggregator still answers within 5 ms.
        if !items.isEmpty {
            let gatherUntil = ContinuousClock.now + .milliseconds(5)
            while items.count < 512, ContinuousClock.now < gatherUntil, !inbox.isClosed {
                let more = await inbox.take(timeout: gatherUntil - ContinuousClock.now, max: 512 - items.count)
                if more.isEmpty { break }
                items += more
            }
        }
        let now = Self.now()
        try await republishIfWanted(core: core, client: client)
        try await receive(items, core: core, client: client, now: now)
        core.advance(now: now)
        try await commit(core: core, client: client, overlap: role.overlapsCommits)
        try await publish(core.shardPartial(now: now), client)
        metrics.inboxShed.record(inbox.shed)
        metrics.rateLimited.record(rateLimited)
        updateStatus(core)
    }

    /// Hands each message to the core (a shard's round announcement may publish at once).
    func receive(_ items: [Item], core: AggregatorCore, client: MQTTClient, now: Int64) async throws {
        // Production: the batch's signatures are checked first, on every core.
        var updates: [(topic: String, payload: [UInt8])] = []
        for case .message(.update, let topic, let payload) in items { updates.append((topic, payload)) }
        var checks = core.checkSignatures(updates)[...]
        for item in items {
            switch item {
            case .message(.update, let topic, let payload):
                let checked = checks.popFirst() ?? nil
                payload.withUnsafeBytes { core.receive(update: $0, topic: topic, now: now, checked: checked) }
            case .message(.status, let topic, let payload):
                _ = core.receive(status: payload, topic: topic, now: now)
            case .message(.partial, let topic, let payload):
                core.receive(partial: payload, topic: topic, now: now)
            case .message(.round, _, let payload):
                try await publish(try await worker.run { try core.receive(round: payload, now: now) }, client)
            case .oversized(.update, let topic, let size, let prefix):
                prefix.withUnsafeBytes { core.receive(oversized: size, prefix: $0, topic: topic, now: now) }
            case .oversized(let input, let topic, let size, _):
                metrics.rejected("too_large")
                logger.warning("ignoring a \(input) message of \(size) bytes on \(topic): over its limit")
            }
        }
    }

    /// Waits for the batch being committed (if any) and finishes it, then commits what is staged now. With
    /// `overlap`, a batch without round actions is committed while the loop receives the next; a batch with
    /// round actions (an aggregation, a new round) is committed and finished at once, so a round only ever
    /// aggregates durable updates.
    func commit(core: AggregatorCore, client: MQTTClient, overlap: Bool) async throws {
        try await settle(core: core, client: client)
        guard let batch = core.takeStaged() else { return }
        if overlap && !batch.hasActions {
            let worker = worker
            inFlight = (batch, Task { try await worker.run { try batch.persist() } })
        } else {
            try await worker.run { try batch.persist() }
            try await finish(batch, core: core, client: client)
        }
    }

    /// Waits for the batch being committed, if any, and finishes it.
    func settle(core: AggregatorCore, client: MQTTClient) async throws {
        guard let (batch, commit) = inFlight else { return }
        inFlight = nil
        try await commit.value
        try await finish(batch, core: core, client: client)
    }

    /// The batch is durable: its acknowledgements go out first, then its round actions run (an aggregation
    /// takes milliseconds the devices need not wait for).
    func finish(_ batch: StagedBatch, core: AggregatorCore, client: MQTTClient) async throws {
        accepted.add(batch.acceptedCount, ordering: .releasing)
        try await publish(batch.acknowledgements, client)
        let now = Self.now()
        try await publish(try await worker.run { try core.finish(batch, now: now, acknowledgements: false) }, client)
    }

    func publish(_ messages: [Outgoing], _ client: MQTTClient) async throws {
        for message in messages {
            let sent = message.payload.withUnsafeBytes { bytes in
                (try? client.tryPublish(message.topic, payload: bytes, qos: .atLeastOnce, retain: message.retain))
                    != nil
            }
            if !sent {
                // The window is full (or the connection is down): wait, with the network thread told not to.
                windowFull.store(true, ordering: .releasing)
                defer { windowFull.store(false, ordering: .releasing) }
                try await client.publish(
                    message.topic, payload: message.payload, qos: .atLeastOnce, retain: message.retain)
            }
            metrics.bytesOut.increment(by: message.payload.count)
            if message.retain { published.withLock { $0[message.topic] = message.payload } }
        }
    }

    func updateStatus(_ core: AggregatorCore) {
        struct Status: Encodable {
            var task: String
            var round: UInt32
            var phase: String
            var role: String
            var pendingUpdates: Int
            var strategy: String
            var dimension: Int
            var modelHash: String
            var inboxShed: Int
            var rateLimited: Int
            var lastRound: RoundMetrics?
        }
        let status = Status(
            task: core.task.task, round: core.round, phase: "\(core.phase)", role: config.hierarchy.role,
            pendingUpdates: core.pendingCount, strategy: config.strategy.kind.rawValue,
            dimension: core.task.dimension, modelHash: "\(HexHash(core.machine.modelHash))", inboxShed: inbox.shed,
            rateLimited: rateLimited, lastRound: core.lastMetrics)
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.sortedKeys]
        board.post(Array((try? encoder.encode(status)) ?? Data("{}".utf8)))
    }

    /// Milliseconds since the Unix epoch.
    static func now() -> Int64 { Int64(Date().timeIntervalSince1970 * 1_000) }
}

/// `@unchecked Sendable`: the core is not thread-safe, and is used by one party at a time: the service's loop
/// awaits each job it hands to the worker thread before it touches the core again. The one overlap, a batch
/// committed while the next is received, touches the state database only (GRDB serialises it).
extension AggregatorCore: @unchecked Sendable {}
