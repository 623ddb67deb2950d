import BrokerConnection
import Federation
import Glibc
public import Logging
import MQTT
import SensorFrames
import Synchronization
import SystemSupport

/// `tributary-agent` as a service: sensor frames in (the MQTT sensor topic, UDP, stdin or recordings, all
/// through one ``SensorIngest``), windows, an online model, and for each round that selects it an update (kept
/// in an on-disk outbox and resent until the aggregator acknowledges it); status and summaries published; state
/// saved atomically, so a restart resumes.
///
/// One loop drives everything. It wakes when a control message arrives (specification, round, model,
/// acknowledgement), when frames are due to be windowed (every `loop_ms`), and when a resend or a status is due;
/// the round logic is the ``AgentRoundMachine``'s, this type only performs its actions.
public final class AgentService: Sendable {
    let config: AgentConfig
    let logger: Logger
    /// Control messages from the MQTT network thread.
    let control = Inbox<ControlMessage>(capacity: 1_024, maxBytes: 256 << 20)
    let failure = Mutex<(any Error)?>(nil)
    let stopping = Atomic<Bool>(false)
    /// What went wrong that the agent survived, for its status.
    let health = Mutex(Health())

    /// A message on one of the task's control topics.
    struct ControlMessage: Sendable {
        var topic: String
        var payload: [UInt8]
    }

    /// Failures the agent counts and reports instead of stopping.
    struct Health: Sendable, Hashable {
        /// Updates or state the disk would not keep (the update is then not sent: data accepted is data kept).
        var durabilityErrors = 0
        /// The last of them, for the status and the log.
        var lastDurabilityError: String?
        /// Publications the MQTT client refused.
        var publishErrors = 0
        /// Updates the aggregator rejected.
        var rejectedUpdates = 0
        /// Control messages refused as too large, before they were copied.
        var oversizedControl = 0
        /// Production: control messages ignored because they carried no signature.
        var unsignedControl = 0
        /// Production: control messages ignored because their signature did not verify with the aggregator's key.
        var forgedControl = 0
        /// Announcements, models and answers not followed, by reason (`stale_round`, `stale_model`, `old_epoch`,
        /// `round_too_far`, `other_epoch`): a restarted broker's stale retained copies land here.
        var ignoredControl: [String: Int] = [:]
    }

    /// Production mode's keys, read at start (nil with `insecure: true`).
    let keys = Mutex<AgentTrust?>(nil)

    /// Creates the service.
    public init(config: AgentConfig, logger: Logger) {
        self.config = config
        self.logger = logger
    }

    /// The keys in force.
    var trust: AgentTrust? { keys.withLock { $0 } }

    /// The error that stopped the service, if one did.
    public var error: (any Error)? { failure.withLock { $0 } }

    /// Asks ``run()`` to stop: it saves the state, publishes the offline status and returns (cancelling its task
    /// does the same).
    public func shutdown() {
        stopping.store(true, ordering: .releasing)
        control.wake()
    }

    /// Runs until ``shutdown()`` or cancellation.
    public func run() async throws {
        do { try await serve() } catch {
            failure.withLock { $0 = error }
            logger.critical("agent stopped: \(error)")
            throw error
        }
    }

    func serve() async throws {
        let device = config.deviceId
        let topics = Topics(prefix: config.prefix, task: config.task)
        try FileIO.makeDirectories(config.stateDir)
        let outbox = try Outbox(directory: config.stateDir + "/outbox")
        if config.insecure {
            logger.warning(
                "insecure: true — development mode: the broker connection may be plain TCP, updates are not signed and control messages are not verified; never use it for a real fleet"
            )
        } else {
            let loaded = try AgentTrust(config.trust)
            keys.withLock { $0 = loaded }
        }
        let core = try AgentCore(
            device: device, channels: config.source.channels, ringFrames: config.ringFrames,
            holdoutEvery: config.holdoutEvery, bufferCapacity: config.bufferWindows,
            backpressure: config.source.kind == "recording", signer: trust?.signer)

        var configuration = try config.broker.mqttConfiguration(clientID: "agent-\(device)", cleanSession: false)
        configuration.will = MQTTWill(
            topic: topics.deviceStatus(device), payload: signed(DeviceStatus(device: device, state: "offline").json),
            qos: .atLeastOnce, retain: true)
        configuration.maxInFlight = 256
        // MQTT 5, so the broker is told the largest packet this agent takes: an oversized sensor message is
        // dropped there, before anything reads it into memory.
        configuration.protocolVersion = .v5
        configuration.maximumIncomingPacketSize = Swift.max(config.maxSensorBytes, config.maxControlBytes) + 65_536
        configuration.reconnect = MQTTReconnectPolicy(minDelay: .milliseconds(100), maxDelay: .seconds(5))
        let client = try MQTTClient(configuration: configuration, logger: logger)
        if config.trimCodePages, let report = CodePages.trim(once: .beforeConnecting) {
            logger.debug("dropped \(report.bytes >> 10) KiB of start-up code pages before connecting")
        }
        // Keeps trying in the background: a device outlives its broker.
        client.start()
        // The full model is taken once (retained), and again only when the deltas cannot be followed.
        for topic in [topics.spec, topics.round, topics.model, topics.modelDelta, topics.ack(device)] {
            try await client.subscribe(topic, qos: .atLeastOnce, hotPath: controlHandler)
        }
        let source = try await startSource(core: core, client: client)
        logger.info(
            "agent \(device) for task \(config.task), source \(config.source.kind), broker \(config.broker.address)")

        var loop = Loop(
            core: core, client: client, topics: topics, outbox: outbox, statePath: config.stateDir + "/agent.state",
            machine: AgentRoundMachine(
                configuration: .init(
                    device: device, resendMilliseconds: Int64(config.resendS * 1_000), minWindows: config.minWindows)))
        while !Task.isCancelled && !stopping.load(ordering: .acquiring) {
            let messages = await control.take(timeout: loop.nextWake(config), max: 64)
            await step(&loop, messages: messages)
        }
        source?.cancel()
        saveState(loop)
        // The offline status, if the broker is there to take it (a will covers the case it is not).
        if client.isConnected {
            await publish(client, topics.deviceStatus(device), status(core, state: "offline"), retain: true)
            _ = await client.drain(timeout: .seconds(2))
        }
        await client.disconnect()
        logger.info("agent \(device) stopped at round \(core.globalRound)")
    }

    /// Hands a control message from the network thread to the loop: refused before it is copied if it is too
    /// large (an oversized message cannot make the agent hold it); the network thread waits briefly for room
    /// (back-pressure on the broker), never forever.
    var controlHandler: MQTTHotPathHandler {
        let limit = config.maxControlBytes
        return { [self] topic, payload in
            guard payload.count <= limit else {
                health.withLock { $0.oversizedControl += 1 }
                return
            }
            if !control.put(
                ControlMessage(topic: String(cString: topic), payload: Array(payload)), bytes: payload.count,
                waitForRoom: .seconds(1))
            {
                logger.warning("control messages are not being handled; one was dropped")
            }
        }
    }

    /// Follows the full retained model, or stops following it (deltas keep the model up to date).
    func followFullModel(_ follow: Bool, _ loop: inout Loop) async {
        guard follow != loop.followsFullModel else { return }
        do {
            if follow {
                try await loop.client.subscribe(loop.topics.model, qos: .atLeastOnce, hotPath: controlHandler)
            } else {
                try await loop.client.unsubscribe(loop.topics.model)
            }
            loop.followsFullModel = follow
        } catch {
            logger.warning("\(follow ? "subscribing to" : "unsubscribing from") the full model: \(error)")
        }
    }

    /// The sensor source, started: the MQTT sensor topic on the network thread, or a source thread.
    func startSource(core: AgentCore, client: MQTTClient) async throws -> FrameSource? {
        let log = RejectionLog(logger: logger, source: "source \(config.source.kind)")
        let ingest = core.makeIngest(maxBytes: config.maxSensorBytes, onRejection: log.callback)
        switch config.source.kind {
        case "mqtt":
            let box = IngestBox(ingest)
            let maxBytes = config.maxSensorBytes
            try await client.subscribe(
                "\(config.prefix)/dev/\(config.deviceId)/sensor/\(config.source.stream)", qos: .atMostOnce
            ) { _, payload in
                // Refused before anything is parsed or copied (counted as too_large by the ingest).
                guard payload.count <= maxBytes else { return box.ingest.rejectOversized(payload.count) }
                box.ingest.ingest(payload)
            }
            return nil
        case "udp":
            return try FrameSource.udp(host: config.source.udpHost, port: config.source.udpPort, ingest: ingest)
        case "stdin":
            return FrameSource.standardInput(ingest: ingest, logger: logger)
        default:
            return try FrameSource.recordings(
                config.source.recordings, speed: config.source.speed, loop: config.source.loop,
                channels: config.source.channels, ingest: ingest, logger: logger)
        }
    }

    /// The MQTT hot path's ingest (used on the network thread only).
    final class IngestBox: @unchecked Sendable {
        // @unchecked: only the client's network thread calls the sensor handler.
        var ingest: SensorIngest
        init(_ ingest: SensorIngest) { self.ingest = ingest }
    }

    /// Saves the agent's state (with the round machine's memory of epochs) atomically; a failure is counted,
    /// logged and reported in the status.
    func saveState(_ loop: Loop) {
        loop.core.roundMemory = (loop.machine.memory, loop.machine.epoch)
        guard let bytes = loop.core.savedState() else { return }
        do { try FileIO.replace(loop.statePath, with: bytes) } catch {
            durabilityFailed("saving the agent's state", error)
        }
    }

    func durabilityFailed(_ what: String, _ error: SystemError) {
        health.withLock {
            $0.durabilityErrors += 1
            $0.lastDurabilityError = "\(what): \(error)"
        }
        logger.error("\(what): \(error)")
    }

    /// Publishes with QoS 1; a refusal is counted and logged (the round machine resends updates).
    @discardableResult
    func publish(_ client: MQTTClient, _ topic: String, _ payload: [UInt8], retain: Bool = false) async -> Bool {
        do {
            try await client.publish(topic, payload: payload, qos: .atLeastOnce, retain: retain)
            return true
        } catch {
            health.withLock { $0.publishErrors += 1 }
            logger.warning("publishing on \(topic): \(error)")
            return false
        }
    }
}
