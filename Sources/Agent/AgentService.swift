import BrokerConnection
import Federation
import Glibc
public import Logging
import MQTT
import SensorFrames
import StreamCore
import Synchronization
import SystemSupport

/// `tributary-agent` as a service: sensor frames in (MQTT hot path, UDP, stdin or recordings), windows, an
/// online model, and for each round that selects it an update (kept in an on-disk outbox and resent until the
/// aggregator acknowledges it); status and summaries published; state saved atomically, so a restart resumes.
public final class AgentService: Sendable {
    let config: AgentConfig
    let logger: Logger
    let control = Mutex<[(topic: String, payload: [UInt8])]>([])
    let failure = Mutex<(any Error)?>(nil)
    let stopping = Atomic<Bool>(false)

    /// Creates the service.
    public init(config: AgentConfig, logger: Logger) {
        self.config = config
        self.logger = logger
    }

    /// The error that stopped the service, if one did.
    public var error: (any Error)? { failure.withLock { $0 } }

    /// Asks ``run()`` to stop: it saves the state, publishes the offline status and returns (cancelling its task
    /// does the same).
    public func shutdown() {
        stopping.store(true, ordering: .releasing)
    }

    /// Runs until ``shutdown()`` or cancellation.
    public func run() async throws {
        do { try await serve() } catch {
            failure.withLock { $0 = error }
            logger.critical("agent stopped: \(error)")
            throw error
        }
    }

    /// The MQTT hot path's ring producer (used on the network thread only).
    final class ProducerBox: @unchecked Sendable {
        var producer: FrameRing.Producer
        let ring: FrameRing
        let rejected = Atomic<Int>(0)
        init(_ ring: FrameRing) {
            self.ring = ring
            producer = ring.makeProducer()
        }
    }

    func serve() async throws {
        let device = config.deviceId
        let topics = Topics(prefix: config.prefix, task: config.task)
        try FileIO.makeDirectories(config.stateDir)
        let outbox = try Outbox(directory: config.stateDir + "/outbox")
        let statePath = config.stateDir + "/agent.state"
        let core = try AgentCore(
            device: device, channels: config.source.channels, ringFrames: config.ringFrames,
            holdoutEvery: config.holdoutEvery, bufferCapacity: config.bufferWindows,
            backpressure: config.source.kind == "recording")

        var configuration = try config.broker.mqttConfiguration(clientID: "agent-\(device)", cleanSession: false)
        configuration.will = MQTTWill(
            topic: topics.deviceStatus(device), payload: DeviceStatus(device: device, state: "offline").json,
            qos: .atLeastOnce, retain: true)
        configuration.maxInFlight = 256
        configuration.reconnect = MQTTReconnectPolicy(minDelay: .milliseconds(100), maxDelay: .seconds(5))
        let client = try MQTTClient(configuration: configuration, logger: logger)
        // Keeps trying in the background: a device outlives its broker.
        client.start()
        for topic in [topics.spec, topics.round, topics.model, topics.ack(device)] {
            try await client.subscribe(topic, qos: .atLeastOnce) { [self] topic, payload in
                let copy = Array(payload.prefix(64 << 20))
                self.control.withLock { $0.append((String(cString: topic), copy)) }
            }
        }

        var source: FrameSource?
        switch config.source.kind {
        case "mqtt":
            let box = ProducerBox(core.ring)
            let maxBytes = config.maxSensorBytes
            let logger = self.logger
            try await client.subscribe(
                "\(config.prefix)/dev/\(device)/sensor/\(config.source.stream)", qos: .atMostOnce
            ) { _, payload in
                do {
                    _ = try SensorBatch.decode(payload, into: &box.producer, ring: box.ring, maxBytes: maxBytes)
                } catch {
                    if box.rejected.add(1, ordering: .relaxed).newValue <= 10 {
                        logger.warning("rejected a sensor batch: \(error)")
                    }
                }
            }
        case "udp":
            source = try FrameSource.udp(
                host: config.source.udpHost, port: config.source.udpPort, ring: core.ring,
                maxBytes: config.maxSensorBytes, logger: logger)
        case "stdin":
            source = FrameSource.standardInput(ring: core.ring, maxBytes: config.maxSensorBytes, logger: logger)
        default:
            source = try FrameSource.recordings(
                config.source.recordings, speed: config.source.speed, loop: config.source.loop, ring: core.ring,
                logger: logger)
        }
        logger.info(
            "agent \(device) for task \(config.task), source \(config.source.kind), broker \(config.broker.host):\(config.broker.port)"
        )

        var state = LoopState()
        while !Task.isCancelled && !stopping.load(ordering: .acquiring) {
            try? await Task.sleep(for: .milliseconds(config.loopMs))
            await step(core: core, client: client, topics: topics, outbox: outbox, statePath: statePath, state: &state)
        }
        source?.cancel()
        if let bytes = core.savedState() { try? FileIO.replace(statePath, with: bytes) }
        // The offline status, if the broker is there to take it (a will covers the case it is not).
        if client.isConnected {
            try? await client.publish(
                topics.deviceStatus(device), payload: status(core, state: "offline"), qos: .atLeastOnce, retain: true)
            _ = await client.drain(timeout: .seconds(2))
        }
        await client.disconnect()
        logger.info("agent \(device) stopped at round \(core.globalRound)")
    }

    /// What the loop remembers between steps.
    struct LoopState {
        var round: RoundAnnouncement?
        var pending: [UInt32: (payload: [UInt8], sentAt: ContinuousClock.Instant?)] = [:]
        var lastStatus = ContinuousClock.now - .seconds(3_600)
        /// When the code pages are trimmed (a few seconds in, once start-up code has run).
        var trimAt: ContinuousClock.Instant? = ContinuousClock.now + .seconds(5)
        /// A new global model was adopted: report its hold-out accuracy (a short status) at once.
        var modelReport = false
        var restored = false
        var wasConnected = false
    }

    func step(
        core: AgentCore, client: MQTTClient, topics: Topics, outbox: Outbox, statePath: String, state: inout LoopState
    ) async {
        let now = ContinuousClock.now
        let messages = control.withLock { queue in
            defer { queue.removeAll() }
            return queue
        }
        for message in messages {
            switch message.topic {
            case topics.spec:
                let spec: TaskSpec
                do { spec = try TaskSpec.decode(message.payload) } catch {
                    logger.warning("ignoring an invalid task specification: \(error)")
                    continue
                }
                guard spec.task == config.task else {
                    logger.warning("ignoring the specification of task \(spec.task) (this agent is for \(config.task))")
                    continue
                }
                do { try core.configure(spec) } catch {
                    logger.error("cannot take part in task \(spec.task): \(error)")
                    continue
                }
                // Once, at the first specification: a later one (the same, redelivered) must not roll back.
                if !state.restored, let saved = (try? FileIO.readAll(statePath)) {
                    if (try? core.restore(saved)) == true {
                        logger.info("resumed from saved state: global round \(core.globalRound)")
                    }
                }
                state.restored = true
                // Pending updates from before a restart leave first.
                for round in (try? outbox.rounds()) ?? [] where state.pending[round] == nil {
                    if let payload = try? outbox.payload(round) { state.pending[round] = (payload, nil) }
                }
            case topics.model:
                let before = core.globalHash
                if let round = core.adopt(model: message.payload), core.globalHash != before {
                    logger.info("adopted the global model for round \(round)")
                    if let bytes = core.savedState() { try? FileIO.replace(statePath, with: bytes) }
                    // Report the new model's hold-out accuracy now rather than at the next interval.
                    state.modelReport = true
                }
            case topics.round:
                guard let announcement = try? RoundAnnouncement.decode(message.payload) else { continue }
                state.round = announcement
                // Updates for earlier rounds are useless now (synchronous rounds).
                if announcement.mode == .sync {
                    for round in state.pending.keys where round < announcement.round {
                        state.pending[round] = nil
                        try? outbox.remove(round)
                    }
                }
            case topics.ack(core.device):
                guard let ack = try? UpdateAck.decode(message.payload), ack.device == core.device else { continue }
                if state.pending.removeValue(forKey: ack.round) != nil {
                    try? outbox.remove(ack.round)
                    if ack.status == .rejected {
                        logger.warning("update for round \(ack.round) rejected: \(ack.reason ?? "")")
                    }
                }
            default:
                break
            }
        }
        core.process()
        if let round = state.round, state.pending[round.round] == nil, core.bufferedWindows >= config.minWindows {
            do {
                if let payload = try core.update(for: round) {
                    try? outbox.put(payload, round: round.round)
                    state.pending[round.round] = (payload, nil)
                    if let bytes = core.savedState() { try? FileIO.replace(statePath, with: bytes) }
                    logger.info("round \(round.round): update of \(payload.count) bytes")
                }
            } catch {
                logger.error("building the update for round \(round.round): \(error)")
            }
        }
        // Send what waits; resend what is not acknowledged.
        let resend = Duration.milliseconds(Int64(config.resendS * 1_000))
        if client.isConnected {
            for (round, entry) in state.pending.sorted(by: { $0.key < $1.key }) {
                if let sentAt = entry.sentAt, now - sentAt < resend { continue }
                do {
                    try await client.publish(topics.update(core.device), payload: entry.payload, qos: .atLeastOnce)
                    state.pending[round]?.sentAt = now
                } catch {
                    logger.warning("publishing the update for round \(round): \(error)")
                }
            }
        }
        if now - state.lastStatus >= .milliseconds(Int64(config.statusIntervalS * 1_000))
            || (client.isConnected && !state.wasConnected)
        {
            state.lastStatus = now
            try? await client.publish(
                topics.deviceStatus(core.device), payload: status(core, state: "online"), qos: .atLeastOnce,
                retain: true)
            if client.isConnected, let summary = core.takeSummary(stream: config.source.stream) {
                try? await client.publish(
                    "\(config.prefix)/dev/\(core.device)/summary", payload: Array(summary.utf8), qos: .atMostOnce)
            }
        }
        if state.modelReport && client.isConnected {
            state.modelReport = false
            try? await client.publish(
                topics.deviceStatus(core.device), payload: modelStatus(core), qos: .atLeastOnce, retain: true)
        }
        state.wasConnected = client.isConnected
        if let at = state.trimAt, now >= at {
            state.trimAt = nil
            if config.trimCodePages {
                let report = CodePages.trim()
                logger.info(
                    "kept only the code pages in use: dropped \(report.bytes >> 10) KiB from \(report.mappings) read-only mappings"
                )
            }
        }
    }

    /// The short status sent when a new global model is adopted: its round, hash and hold-out accuracy.
    func modelStatus(_ core: AgentCore) -> [UInt8] {
        var status = DeviceStatus(
            device: core.device, state: "online", round: core.globalRound,
            metrics: core.globalHoldoutAccuracy.map { ["holdout_accuracy": rounded($0)] })
        status.modelHash = HexHash(core.globalHash)
        return status.json
    }

    func status(_ core: AgentCore, state: String) -> [UInt8] {
        var metrics: [String: Double] = [
            "frames": Double(core.counters.frames), "windows": Double(core.counters.windows),
            "updates_sent": Double(core.counters.updates), "update_bytes": Double(core.counters.updateBytes),
            "model_bytes": Double(core.counters.modelBytes), "buffered_windows": Double(core.bufferedWindows),
        ]
        if let accuracy = core.globalHoldoutAccuracy { metrics["holdout_accuracy"] = accuracy }
        if let local = core.localAccuracy {
            metrics["prequential_accuracy"] = local.prequential
            metrics["local_holdout_accuracy"] = local.holdout
        }
        metrics["resident_mib"] = Double(residentBytes()) / 1_048_576
        for (key, value) in metrics { metrics[key] = rounded(value) }
        var status = DeviceStatus(
            device: core.device, state: state, version: "tributary-agent 0.1", round: core.globalRound,
            metrics: metrics)
        status.modelHash = HexHash(core.globalHash)
        return status.json
    }
}

/// Four decimals are plenty for a status, and keep it short on the wire.
func rounded(_ value: Double) -> Double { (value * 10_000).rounded() / 10_000 }

/// Resident set size of this process (from /proc/self/statm).
func residentBytes() -> Int {
    guard let text = (try? FileIO.readAll("/proc/self/statm")), let line = String(validating: text, as: UTF8.self)
    else {
        return 0
    }
    let fields = line.split(separator: " ")
    guard fields.count > 1, let pages = Int(fields[1]) else { return 0 }
    return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
}
