import BrokerConnection
import Federation
import Foundation
public import Logging
import MQTT
public import ServiceLifecycle
import Synchronization

/// `tributary-aggregator` as a service: connects to the broker, subscribes to the task's updates (through a
/// shared subscription when sharded) and to device statuses, drives an ``AggregatorCore`` from one task, and
/// serves `/metrics` and `/status`. On graceful shutdown (SIGTERM) it stops taking messages, commits and
/// acknowledges what it holds, and exits; everything accepted is already durable, so a restart resumes the round.
public final class AggregatorService: Service, Sendable {
    let config: AggregatorConfig
    let logger: Logger
    /// The service's metrics.
    public let metrics: AggregatorMetrics
    let inbox = Inbox()
    let statusJSON = Mutex<[UInt8]>(Array("{}".utf8))
    let failure = Mutex<(any Error)?>(nil)
    let accepted = Atomic<Int>(0)
    /// The batch being committed while the next one is received (single role; see ``pipeline(_:core:client:)``).
    let committing = Mutex<(batch: StagedBatch, commit: Task<Void, any Error>)?>(nil)
    var inFlight: (batch: StagedBatch, commit: Task<Void, any Error>)? {
        get { committing.withLock { $0 } }
        set { committing.withLock { $0 = newValue } }
    }

    /// Creates the service; nothing happens until ``run()``.
    public init(config: AggregatorConfig, logger: Logger, metrics: AggregatorMetrics = AggregatorMetrics()) {
        self.config = config
        self.logger = logger
        self.metrics = metrics
    }

    /// Updates accepted and durably committed since the service started (their acknowledgements follow).
    public var acceptedUpdates: Int { accepted.load(ordering: .acquiring) }

    /// The error that stopped the service, if one did.
    public var error: (any Error)? { failure.withLock { $0 } }

    /// Runs until shutdown or until `maxRounds` is reached.
    public func run() async throws {
        do {
            try await serve()
        } catch {
            failure.withLock { $0 = error }
            logger.critical("aggregator stopped: \(error)")
            throw error
        }
    }

    func serve() async throws {
        let core = try AggregatorCore(config: config, metrics: metrics, logger: logger)
        let topics = Topics(prefix: config.prefix, task: core.task.task)
        var configuration = try config.broker.mqttConfiguration(clientID: "tributary-aggregator", cleanSession: false)
        configuration.maxInFlight = 4_096
        configuration.reconnect = MQTTReconnectPolicy(minDelay: .milliseconds(100), maxDelay: .seconds(5))
        let client = try MQTTClient(configuration: configuration, logger: logger)
        try await client.connect()
        logger.info("connected to \(config.broker.address) as \(configuration.clientID)")
        let inbox = self.inbox
        let maxBytes = config.limits.maxUpdateBytes
        let role = config.hierarchy.role
        if role != "root" {
            let updates = role == "shard" ? topics.sharedUpdates(group: config.hierarchy.group) : topics.updates
            try await client.subscribe(updates, qos: .atLeastOnce) { topic, payload in
                // Oversized messages are rejected without copying them whole.
                let bytes = payload.count <= maxBytes ? Array(payload) : Array(payload.prefix(64))
                inbox.put(.update(topic: String(cString: topic), payload: bytes))
            }
        }
        if role == "shard" {
            try await client.subscribe(topics.round, qos: .atLeastOnce) { _, payload in
                inbox.put(.round(payload: Array(payload.prefix(1 << 20))))
            }
        } else {
            try await client.subscribe(topics.deviceStatuses, qos: .atLeastOnce) { topic, payload in
                inbox.put(.status(topic: String(cString: topic), payload: Array(payload.prefix(4_096))))
            }
        }
        if role == "root" {
            try await client.subscribe(topics.partials, qos: .atLeastOnce) { topic, payload in
                inbox.put(.partial(topic: String(cString: topic), payload: Array(payload)))
            }
        }

        var out = try core.start(now: Self.now())
        updateStatus(core, topics: topics)
        try await publish(out, client)
        let http = try startHTTP()
        defer { http?.cancel() }

        await withGracefulShutdownHandler {
            do {
                while !Task.isCancelled && !core.finished && !inbox.isClosed {
                    // While a batch is being committed, look again soon: its acknowledgements wait for us.
                    var items = await inbox.take(timeout: .milliseconds(self.inFlight == nil ? 100 : 1))
                    if items.isEmpty { core.idle() }
                    // Group commit: gather up to 5 ms (or 512 messages) behind the first, so one transaction and
                    // one fsync cover many updates under load; an idle aggregator still answers within 5 ms.
                    if !items.isEmpty {
                        let gatherUntil = ContinuousClock.now + .milliseconds(5)
                        while items.count < 512, ContinuousClock.now < gatherUntil, !inbox.isClosed {
                            let more = await inbox.take(
                                timeout: gatherUntil - ContinuousClock.now, max: 512 - items.count)
                            if more.isEmpty { break }
                            items += more
                        }
                    }
                    if role == "single" {
                        try await self.pipeline(items, core: core, client: client)
                    } else {
                        try await self.process(items, core: core, client: client)
                        out = try core.tick(now: Self.now())
                        try await self.publish(out, client)
                    }
                    self.updateStatus(core, topics: topics)
                }
            } catch {
                self.failure.withLock { $0 = error }
            }
        } onGracefulShutdown: {
            inbox.close()
        }
        // Whatever arrived before the shutdown is committed and acknowledged.
        if error == nil, (try? await settle(core: core, client: client)) == nil {
            failure.withLock { $0 = $0 ?? StoreError("the last batch could not be committed") }
        }
        if error == nil {
            try await process(inbox.takeNow(max: .max) ?? [], core: core, client: client)
        }
        _ = await client.drain(timeout: .seconds(10))
        await client.disconnect()
        if let error { throw error }
        logger.info("aggregator stopped at round \(core.round) (\(core.phase))")
    }

    func process(_ items: [Inbox.Item], core: AggregatorCore, client: MQTTClient) async throws {
        guard !items.isEmpty else { return }
        let now = Self.now()
        try await receive(items, core: core, client: client, now: now)
        let out = try core.commit(now: now)
        accepted.add(core.lastCommitAccepted, ordering: .releasing)
        try await publish(out, client)
    }

    /// Hands each message to the core (a shard's round announcement may publish at once).
    func receive(_ items: [Inbox.Item], core: AggregatorCore, client: MQTTClient, now: Int64) async throws {
        for item in items {
            switch item {
            case .update(let topic, let payload):
                payload.withUnsafeBytes { core.receive(update: $0, topic: topic, now: now) }
            case .status(let topic, let payload):
                _ = core.receive(status: payload, topic: topic, now: now)
            case .partial(let topic, let payload):
                core.receive(partial: payload, topic: topic, now: now)
            case .round(let payload):
                try await publish(try core.receive(round: payload, now: now), client)
            }
        }
    }

    /// Receives a batch while the previous one is being made durable, then finishes that one (its
    /// acknowledgements go out) and starts committing this one. A batch with round actions (an aggregation, a
    /// new round) is committed and finished at once, so a round only ever aggregates durable updates.
    func pipeline(_ items: [Inbox.Item], core: AggregatorCore, client: MQTTClient) async throws {
        let now = Self.now()
        try await receive(items, core: core, client: client, now: now)
        core.advance(now: now)
        try await settle(core: core, client: client)
        guard let batch = core.takeStaged() else { return }
        if batch.hasActions {
            try batch.persist()
            try await finish(batch, core: core, client: client)
        } else {
            inFlight = (batch, Task.detached { try batch.persist() })
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
        try await publish(try core.finish(batch, now: Self.now(), acknowledgements: false), client)
    }

    func publish(_ messages: [Outgoing], _ client: MQTTClient) async throws {
        for message in messages {
            try await client.publish(message.topic, payload: message.payload, qos: .atLeastOnce, retain: message.retain)
            metrics.bytesOut.increment(by: message.payload.count)
        }
    }

    func startHTTP() throws -> Task<Void, Never>? {
        guard config.http.port != 0 else { return nil }
        let server = try StatusServer(
            host: config.http.host, port: config.http.port, metrics: metrics,
            status: { [self] in self.statusJSON.withLock { $0 } })
        logger.info("status and metrics on http://\(config.http.host):\(config.http.port)/status and /metrics")
        let logger = self.logger
        return Task {
            do { try await server.run() } catch {
                if !Task.isCancelled { logger.error("status endpoint stopped: \(error)") }
            }
        }
    }

    func updateStatus(_ core: AggregatorCore, topics: Topics) {
        struct Status: Encodable {
            var task: String
            var round: UInt32
            var phase: String
            var pendingUpdates: Int
            var strategy: String
            var dimension: Int
            var modelHash: String
            var lastRound: RoundMetrics?
        }
        let status = Status(
            task: core.task.task, round: core.round, phase: "\(core.phase)", pendingUpdates: core.pendingCount,
            strategy: config.strategy.kind.rawValue, dimension: core.task.dimension,
            modelHash: "\(HexHash(core.machine.modelHash))", lastRound: core.lastMetrics)
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.sortedKeys]
        let bytes = Array((try? encoder.encode(status)) ?? Data("{}".utf8))
        statusJSON.withLock { $0 = bytes }
    }

    /// Milliseconds since the Unix epoch.
    static func now() -> Int64 { Int64(Date().timeIntervalSince1970 * 1_000) }
}
