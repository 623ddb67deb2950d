import Federation
import MQTT
import ServiceLifecycle

extension AggregatorService {
    /// The state directory's lock: at once, or (`standby: true`) once the aggregator holding it stops; nil when
    /// the service was asked to stop while it waited.
    func takeLock() async throws -> StateLock? {
        try makeDirectory(config.stateDir)
        var waiting = false
        while true {
            let attempt = Result { () throws(StateError) in try StateLock(directory: config.stateDir) }
            switch attempt {
            case .success(let lock): return lock
            case .failure(let error):
                guard error.code == .locked, config.standby else { throw error }
                if !waiting {
                    waiting = true
                    logger.notice("standby: \(error.message); waiting to take over")
                }
            }
            if Task.isShuttingDownGracefully || Task.isCancelled { return nil }
            try? await Task.sleep(for: .milliseconds(250))
        }
    }

    /// Waits until the client (started, retrying with back-off) is connected: true; false when the service was
    /// asked to stop meanwhile; throws after `connect_timeout_s` (0: no limit).
    func waitForBroker(_ client: MQTTClient) async throws -> Bool {
        let started = ContinuousClock.now
        let limit: Duration? = config.connectTimeoutS > 0 ? .milliseconds(Int64(config.connectTimeoutS * 1_000)) : nil
        var told = false
        while !client.isConnected {
            if Task.isShuttingDownGracefully || Task.isCancelled { return false }
            let waited = ContinuousClock.now - started
            if let limit, waited >= limit {
                throw MQTTError(
                    code: .timeout,
                    message:
                        "no broker at \(config.broker.address) within \(config.connectTimeoutS) s (connect_timeout_s)",
                    function: "connect", isRetriable: true)
            }
            if !told && waited >= .seconds(1) {
                told = true
                logger.warning("the broker at \(config.broker.address) is not reachable yet; retrying with back-off")
            }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return true
    }

    /// Follows the connection and this aggregator's own retained topics (single or root): after each reconnect,
    /// and for each retained copy the broker hands over at subscription that differs from what was published
    /// there last, it raises ``republishWanted``; the loop then publishes the retained messages again (the
    /// broker lost them, or restored stale ones from its persistence file). A flag, not an inbox message: a full
    /// inbox must not lose it, and the watcher never waits.
    func watchBroker(_ client: MQTTClient, topics: Topics, role: AggregatorRole) -> Task<Void, Never> {
        let own = role.shardID == nil ? [topics.spec, topics.round, topics.model] : []
        return Task {
            await withTaskGroup(of: Void.self) { group in
                group.addTask {
                    var first = true
                    for await event in client.events {
                        guard case .connected = event else { continue }
                        // The first connection is followed by the start's own publication.
                        if first {
                            first = false
                            continue
                        }
                        self.republishWanted.store(Self.afterReconnect, ordering: .releasing)
                    }
                }
                group.addTask {
                    for await message in client.messages where message.retain && own.contains(message.topic) {
                        guard self.retainedDiffers(topic: message.topic, payload: message.payload) else { continue }
                        self.logger.info("the broker holds another \(message.topic) than this state's")
                        // A reconnect's republication (due anyway) is not downgraded to a rate-limited one.
                        _ = self.republishWanted.compareExchange(
                            expected: 0, desired: Self.staleCopy, ordering: .acquiringAndReleasing)
                    }
                }
                for topic in own {
                    do { try await client.subscribe(topic, qos: .atLeastOnce) } catch {
                        logger.warning("cannot watch the retained \(topic): \(error)")
                    }
                }
            }
        }
    }

    /// Whether the broker's retained copy of `topic` differs from what this aggregator published there last.
    func retainedDiffers(topic: String, payload: [UInt8]) -> Bool {
        published.withLock { $0[topic].map { $0 != payload } ?? false }
    }

    /// ``republishWanted`` values.
    static let afterReconnect = 1
    static let staleCopy = 2

    /// Publishes the retained messages again if the watcher asked for it: always after a reconnect, at most once
    /// a second for differing copies (two aggregators on the same topics must not flood the broker).
    func republishIfWanted(core: AggregatorCore, client: MQTTClient) async throws {
        let wanted = republishWanted.load(ordering: .acquiring)
        guard wanted != 0 else { return }
        let now = Self.now()
        if wanted == Self.staleCopy, now - lastRepublish.load(ordering: .relaxed) < 1_000 { return }
        republishWanted.store(0, ordering: .releasing)
        try await republish(
            core: core, client: client,
            because: wanted == Self.afterReconnect
                ? "reconnected to the broker" : "the broker holds a copy that is not this state's")
    }

    /// Publishes the retained messages again.
    func republish(core: AggregatorCore, client: MQTTClient, because reason: String) async throws {
        lastRepublish.store(Self.now(), ordering: .relaxed)
        metrics.republished.increment()
        logger.notice("publishing the retained specification, model and round again: \(reason)")
        try await publish(try await worker.run { try core.retained() }, client)
    }
}
