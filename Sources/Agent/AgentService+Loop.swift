import Federation
import MQTT
import SystemSupport

extension AgentService {
    /// What the loop holds between passes.
    struct Loop {
        let core: AgentCore
        let client: MQTTClient
        let topics: Topics
        let outbox: Outbox
        let statePath: String
        var machine: AgentRoundMachine
        var lastStatus = ContinuousClock.now - .seconds(3_600)
        /// When the code pages are trimmed (a few seconds in, once start-up code has run).
        var trimAt: ContinuousClock.Instant? = ContinuousClock.now + .seconds(5)
        /// The outbox and the saved state are read once, at the first specification.
        var restored = false
        var wasConnected = false
        /// Whether the agent listens to the retained full model (at start, and when a delta cannot be applied).
        var followsFullModel = true
        let started = ContinuousClock.now

        /// Milliseconds since the loop started (the round machine's clock).
        var now: Int64 {
            let elapsed = ContinuousClock.now - started
            return elapsed.components.seconds * 1_000 + elapsed.components.attoseconds / 1_000_000_000_000_000
        }

        /// How long the loop may wait for a control message before it has work of its own: windows to cut
        /// (every `loop_ms`), a resend or a status falling due.
        func nextWake(_ config: AgentConfig) -> Duration {
            var wait = Duration.milliseconds(config.loopMs)
            if let resend = machine.nextResend() { wait = min(wait, .milliseconds(Swift.max(0, resend - now))) }
            let statusDue = lastStatus + .milliseconds(Int64(config.statusIntervalS * 1_000)) - ContinuousClock.now
            return max(.zero, min(wait, statusDue))
        }
    }

    /// One pass: the control messages that came, the windows the ring holds, the round machine's actions, the
    /// status when it is due.
    func step(_ loop: inout Loop, messages: [ControlMessage]) async {
        for message in messages { await receive(message, &loop) }
        let core = loop.core
        core.process()
        let connected = loop.client.isConnected
        let tick = loop.machine.handle(.tick(now: loop.now, connected: connected, windows: core.bufferedWindows))
        await perform(tick, &loop)
        let now = ContinuousClock.now
        if now - loop.lastStatus >= .milliseconds(Int64(config.statusIntervalS * 1_000))
            || (connected && !loop.wasConnected)
        {
            loop.lastStatus = now
            await publish(
                loop.client, loop.topics.deviceStatus(core.device), status(core, state: "online"), retain: true)
            if connected, let summary = core.takeSummary(stream: config.source.stream) {
                try? await loop.client.publish(
                    "\(config.prefix)/dev/\(core.device)/summary", payload: Array(summary.utf8), qos: .atMostOnce)
            }
        }
        if connected && !loop.wasConnected && config.trimCodePages, let report = CodePages.trim(once: .connected) {
            logger.debug("dropped \(report.bytes >> 10) KiB of the connection's code pages")
        }
        loop.wasConnected = connected
        if let at = loop.trimAt, now >= at {
            loop.trimAt = nil
            if config.trimCodePages {
                let report = CodePages.trim()
                logger.info(
                    "kept only the code pages in use: dropped \(report.bytes >> 10) KiB from \(report.mappings) read-only mappings"
                )
            }
        }
    }

    /// Hands one control message to the core or the round machine: in production only once its signature
    /// verifies with the aggregator's key (a forged retained model or announcement is ignored and counted).
    func receive(_ signed: ControlMessage, _ loop: inout Loop) async {
        let core = loop.core
        var message = signed
        let binary = message.topic == loop.topics.model || message.topic == loop.topics.modelDelta
        if let trust {
            switch trust.open(message.payload, binary: binary) {
            case .success(let body): message.payload = body
            case .failure(let refusal):
                let count = health.withLock { health in
                    if case .unsigned = refusal { health.unsignedControl += 1 } else { health.forgedControl += 1 }
                    return health.unsignedControl + health.forgedControl
                }
                // The first few are worth a warning each; then one in a hundred.
                if count <= 5 || count % 100 == 0 {
                    logger.warning(
                        "ignoring a\(refusal == .unsigned ? "n unsigned" : " forged") message on \(message.topic) (\(count) so far)"
                    )
                }
                return
            }
        } else if !binary {
            message.payload = SignedJSON.open(message.payload).body
        }
        switch message.topic {
        case loop.topics.spec:
            let spec: TaskSpec
            do { spec = try TaskSpec.decode(message.payload) } catch {
                logger.warning("ignoring an invalid task specification: \(error)")
                return
            }
            guard spec.task == config.task else {
                logger.warning("ignoring the specification of task \(spec.task) (this agent is for \(config.task))")
                return
            }
            do { try core.configure(spec) } catch {
                logger.error("cannot take part in task \(spec.task): \(error)")
                return
            }
            // The full model travels as float32: one over the limit is never delivered by the broker.
            let modelBytes = 4 * spec.dimension + 512
            if modelBytes > config.maxControlBytes {
                logger.error(
                    "task \(spec.task)'s model needs about \(modelBytes) bytes, above max_control_bytes (\(config.maxControlBytes)): raise it, or this agent never receives a full model"
                )
            }
            // Once, at the first specification: a later one (the same, redelivered) must not roll back.
            if !loop.restored {
                loop.restored = true
                restore(&loop)
            }
            _ = loop.machine.handle(.modelHeld(round: core.globalRound, hash: core.globalHash))
        case loop.topics.model:
            guard let model = core.check(model: message.payload) else { return }
            await offer(model, bytes: message.payload.count, fromDelta: false, &loop)
            // With a sparse downlink, deltas keep the model up to date from here.
            if let spec = core.spec, spec.codec.downlinkKFraction < 1, core.globalHash == model.hash {
                await followFullModel(false, &loop)
            }
        case loop.topics.modelDelta:
            switch core.check(delta: message.payload) {
            case .apply(let model): await offer(model, bytes: message.payload.count, fromDelta: true, &loop)
            case .needsFullModel: await followFullModel(true, &loop)
            case .ignore: break
            }
        case loop.topics.round:
            guard let announcement = try? RoundAnnouncement.decode(message.payload),
                announcement.task == config.task
            else { return }
            // A round on a model this device does not hold, and no delta to get there: the full model.
            if announcement.modelHash.value != core.globalHash { await followFullModel(true, &loop) }
            await perform(
                loop.machine.handle(.announced(announcement, now: loop.now, verified: trust != nil)), &loop)
        case loop.topics.ack(core.device):
            guard let ack = try? UpdateAck.decode(message.payload), ack.device == core.device else { return }
            await perform(loop.machine.handle(.acknowledged(ack)), &loop)
        default:
            break
        }
    }

    /// A checked model (full, or made by a delta) offered to the round machine, adopted if it says so.
    func offer(_ model: CheckedModel, bytes: Int, fromDelta: Bool, _ loop: inout Loop) async {
        let core = loop.core
        let offered = loop.machine.handle(
            .modelOffered(
                round: model.round, hash: model.hash, epoch: model.epoch, now: loop.now, verified: trust != nil))
        for action in offered {
            guard case .adopt = action else {
                await perform([action], &loop)
                continue
            }
            core.adopt(model, bytes: bytes, fromDelta: fromDelta)
            _ = loop.machine.handle(.modelHeld(round: core.globalRound, hash: core.globalHash))
            logger.info("adopted the global model for round \(model.round)")
            // Its hold-out accuracy travels with the next update (and the periodic status).
            saveState(loop)
        }
    }

    /// The saved state and the outbox, read at start-up into the core and the round machine.
    func restore(_ loop: inout Loop) {
        let core = loop.core
        do {
            if try core.restore(try FileIO.readAll(loop.statePath)) {
                logger.info("resumed from saved state: global round \(core.globalRound)")
            }
        } catch let error as SystemError where error.code == .notFound {
            // A first start.
        } catch {
            logger.error("the saved state \(loop.statePath) is not usable, starting afresh: \(error)")
        }
        var waiting: [AgentRoundMachine.Pending] = []
        do {
            for round in try loop.outbox.rounds() {
                waiting.append(.init(round: round, payload: try loop.outbox.payload(round)))
            }
        } catch {
            durabilityFailed("reading the outbox", error)
        }
        let (memory, epoch) = core.roundMemory
        _ = loop.machine.handle(.restored(pending: waiting, memory: memory, epoch: epoch))
    }

    /// Performs the round machine's actions, reporting their outcome back to it.
    func perform(_ actions: [AgentRoundMachine.Action], _ loop: inout Loop) async {
        var queue = actions[...]
        while let action = queue.popFirst() {
            switch action {
            case .build(let round):
                do {
                    if let payload = try loop.core.update(for: round) {
                        logger.info("round \(round.round): update of \(payload.count) bytes")
                        queue += loop.machine.handle(.built(round: round.round, payload: payload))
                        saveState(loop)
                    } else {
                        queue += loop.machine.handle(.notBuilt(round: round.round))
                    }
                } catch {
                    logger.error("building the update for round \(round.round): \(error)")
                    queue += loop.machine.handle(.notBuilt(round: round.round))
                }
            case .store(let round, let payload):
                do {
                    try loop.outbox.put(payload, round: round)
                    queue += loop.machine.handle(.stored(round: round))
                } catch {
                    durabilityFailed("keeping the update for round \(round) in the outbox", error)
                    queue += loop.machine.handle(.storeFailed(round: round))
                }
            case .publish(let round, let payload):
                if await publish(loop.client, loop.topics.update(loop.core.device), payload) {
                    queue += loop.machine.handle(.published(round: round, now: loop.now))
                }
            case .discard(let round):
                do { try loop.outbox.remove(round) } catch {
                    // The file stays: after a restart it is sent again and answered as a duplicate.
                    durabilityFailed("removing the update for round \(round) from the outbox", error)
                }
            case .rejected(let round, let reason):
                health.withLock { $0.rejectedUpdates += 1 }
                logger.warning("update for round \(round) rejected: \(reason)")
            case .adopt:
                break  // handled where the model is at hand (receive)
            case .ignored(let reason, let round):
                let count = health.withLock { health in
                    health.ignoredControl[reason, default: 0] += 1
                    return health.ignoredControl[reason]!
                }
                // A restarted broker's stale copies come a few at a time; a flood is summarised.
                if count <= 3 || count % 100 == 0 {
                    logger.info("ignored a round or model message for round \(round): \(reason) (\(count) so far)")
                }
            case .enteredEpoch(let epoch):
                logger.notice("following federation epoch \(HexHash(epoch)) (the aggregator's state is new)")
                saveState(loop)
            }
        }
    }
}
