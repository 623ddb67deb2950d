import Federation
import Foundation
import TributaryWire
import UpdateCodec

extension AggregatorCore {
    /// Decodes and checks an update message against the task: a topic naming a valid device, the size limit,
    /// the codec's checks, the type, and the device in the header matching the topic.
    func validate(_ payload: UnsafeRawBufferPointer, topic: String, checked: SignatureCheck? = nil) -> Validation {
        guard let device = topics.device(inUpdateTopic: topic), Topics.isValidID(device) else { return .badTopic }
        guard payload.count <= config.limits.maxUpdateBytes else {
            return .rejected(device: device, round: UpdateDecoder.claimedRound(payload) ?? 0, reason: "too_large")
        }
        // Production: the sender is enrolled and signed the message, checked before anything of it is decoded.
        if let trust,
            let refusal = checked?.device == device ? checked?.refusal : trust.check(update: payload, device: device)
        {
            logRejection("rejected an update from \(device): \(refusal.rawValue)")
            return .rejected(device: device, round: UpdateDecoder.claimedRound(payload) ?? 0, reason: refusal.rawValue)
        }
        let decoded: DecodedUpdate
        do {
            decoded = try decoder.decode(payload, expectedTask: spec.task, expectedDimension: spec.dimension)
        } catch {
            let round = UpdateDecoder.claimedRound(payload) ?? 0
            logRejection("rejected an update from \(device): \(error)")
            return .rejected(device: device, round: round, reason: error.code.name)
        }
        guard decoded.header.type == .update else {
            return .rejected(device: device, round: decoded.header.round, reason: "wrong_message_type")
        }
        guard decoded.header.device == device else {
            return .rejected(device: device, round: decoded.header.round, reason: "device_mismatch")
        }
        // Development mode: an update that decodes for this task and names its topic's device is a device's; a
        // new one takes a place in the device table, if there is one (past it: fleet_full, unanswered).
        guard admit(device) else {
            return .rejected(device: device, round: decoded.header.round, reason: "fleet_full")
        }
        // An agent trains on at most the samples the round asked for: a heavier claim outweighs honest devices.
        guard Int(decoded.header.sampleWeight) <= config.rounds.local.samples else {
            logRejection(
                "rejected an update from \(device): weight \(decoded.header.sampleWeight) above the round's \(config.rounds.local.samples) samples"
            )
            return .rejected(device: device, round: decoded.header.round, reason: "weight_too_large")
        }
        if let violation = config.strategy.violation(
            weight: Double(decoded.header.sampleWeight), values: decoded.values)
        {
            logRejection("rejected an update from \(device): \(violation) (weight \(decoded.header.sampleWeight))")
            return .rejected(device: device, round: decoded.header.round, reason: violation.rawValue)
        }
        return .valid(device: device, update: decoded)
    }

    /// Logs a refusal: the first 20 one by one, then one in a thousand with the count (a flood of refusals
    /// must not fill the disk with log lines; the counters on `/metrics` and in the state keep every one).
    func logRejection(_ message: @autoclosure () -> String) {
        rejectionsLogged += 1
        if rejectionsLogged <= 20 {
            logger.info("\(message())")
        } else if rejectionsLogged % 1_000 == 0 {
            logger.info("\(message()) (\(rejectionsLogged) rejections so far; logged one in a thousand)")
        }
    }

    /// What ``validate(_:topic:)`` found.
    enum Validation {
        case badTopic
        case rejected(device: String, round: UInt32, reason: String)
        case valid(device: String, update: DecodedUpdate)
    }

    /// An update message over the size limit, of which only its first bytes were kept: refused as `too_large`
    /// (to the round it claims, so the answer reaches the sender's pending update), without reading the rest.
    public func receive(oversized size: Int, prefix: UnsafeRawBufferPointer, topic: String, now: Int64) {
        metrics.bytesIn.increment(by: size)
        guard let device = topics.device(inUpdateTopic: topic), Topics.isValidID(device) else {
            metrics.rejected("bad_topic")
            return
        }
        logRejection(
            "rejected an update of \(size) bytes from \(device): over the \(config.limits.maxUpdateBytes)-byte limit")
        reject(device: device, round: UpdateDecoder.claimedRound(prefix) ?? 0, reason: "too_large", now: now)
    }

    /// Validates and stages one update message (acknowledged by the next ``commit(now:)``). `checked` is its
    /// entry from ``checkSignatures(_:)``, if the batch was checked ahead.
    public func receive(
        update payload: UnsafeRawBufferPointer, topic: String, now: Int64, checked: SignatureCheck? = nil
    ) {
        metrics.bytesIn.increment(by: payload.count)
        let device: String
        let decoded: DecodedUpdate
        switch validate(payload, topic: topic, checked: checked) {
        case .badTopic:
            metrics.rejected("bad_topic")
            logger.warning("update on unexpected topic \(topic)")
            return
        case .rejected(let who, let round, let reason):
            return reject(device: who, round: round, reason: reason, now: now)
        case .valid(let who, let update):
            device = who
            decoded = update
        }
        let header = decoded.header
        let current = role.shardID != nil ? following?.round : machine.round
        let resent: Bool
        do { resent = try duplicates.contains(round: header.round, device: device, current: current) } catch {
            logger.error("checking \(device)'s update for round \(header.round) against the state: \(error)")
            resent = false
        }
        if resent {
            metrics.duplicates.increment()
            stagedAcks.append(ack(device, header.round, .duplicate))
            return
        }
        let actions: [RoundMachine.Action]
        if role.shardID != nil {
            actions = [shardDecision(device: device, header: header, now: now)]
        } else {
            actions = machine.handle(
                .update(device: device, round: header.round, baseModelHash: header.baseModelHash, now: now))
        }
        for action in actions {
            switch action {
            case .accept(_, let round, let staleness):
                do {
                    try aggregator.add(
                        ClientUpdate(
                            device: device, indices: decoded.indices, values: decoded.values,
                            weight: Double(header.sampleWeight), staleness: staleness))
                } catch {
                    // The codec validated it; an aggregator refusal is a bug worth a loud log, not a crash.
                    logger.error("the aggregator refused a validated update from \(device): \(error)")
                    reject(device: device, round: round, reason: "invalid_update", now: now)
                    continue
                }
                duplicates.insert(round: round, device: device)
                if let accuracy = header.metrics[UpdateFormat.Metric.holdoutAccuracy] {
                    roundAccuracies[device] = Double(accuracy)
                }
                roundBytes += payload.count
                stagedAccepted.append(
                    StateStore.AcceptedUpdate(
                        round: round, device: device, staleness: staleness, weight: Double(header.sampleWeight),
                        payload: Array(payload), at: now))
                stagedAcks.append(ack(device, round, .accepted))
                metrics.accepted.increment()
                partialDirty = true
            case .reject(_, let round, let reason):
                reject(device: device, round: round, reason: reason.rawValue, now: now)
            default:
                deferred.append(action)
            }
        }
    }

    /// Counts a refusal; a known device is also told (an unknown id gets no answer and no row: answering
    /// invented ids would let anyone make the aggregator publish and store without bound).
    func reject(device: String, round: UInt32, reason: String, now: Int64) {
        metrics.rejected(reason)
        roundRejected[reason, default: 0] += 1
        let known = isKnown(device)
        stagedRejected.append(StateStore.Rejection(round: round, device: device, reason: reason, at: now, known: known))
        if known { stagedAcks.append(ack(device, round, .rejected, reason: reason)) }
    }

    func ack(_ device: String, _ round: UInt32, _ status: UpdateAck.Status, reason: String? = nil) -> Outgoing {
        // A shard answers in the epoch of the root it follows.
        let epoch = role.shardID != nil ? following?.epoch ?? 0 : epoch
        return Outgoing(
            topic: topics.ack(device),
            payload: UpdateAck(
                task: spec.task, round: round, device: device, status: status, reason: reason,
                epoch: epoch == 0 ? nil : epoch
            ).json)
    }

    /// A device's status message.
    public func receive(status payload: [UInt8], topic: String, now: Int64) -> [Outgoing] {
        guard let device = topics.device(inStatusTopic: topic) else { return [] }
        // An empty retained message clears a status: the device is gone.
        let online: Bool
        if payload.isEmpty {
            // Only a known device can go offline (an empty message on an invented id adds nothing).
            guard isKnown(device) else { return [] }
            online = false
        } else {
            var body = payload
            if let trust {
                switch trust.open(json: payload, from: device) {
                case .success(let signed): body = signed
                case .failure(let refusal):
                    metrics.rejected("bad_status")
                    logger.debug("ignoring a status of \(device): \(refusal.rawValue)")
                    return []
                }
            }
            guard let status = try? DeviceStatus.decode(SignedJSON.open(body).body), status.device == device else {
                metrics.rejected("bad_status")
                return []
            }
            online = status.isOnline
            // Online only if known: enrolled (production), or admitted within limits.max_devices (development).
            guard online ? admit(device) : isKnown(device) else {
                if online && trust == nil { metrics.rejected("fleet_full") }
                return []
            }
        }
        try? store.deviceStatus(device, status: online ? "online" : "offline", at: now)
        let actions = machine.handle(online ? .deviceOnline(device, now: now) : .deviceOffline(device, now: now))
        deferred += actions
        return []
    }

    /// Whether a batch is staged.
    public var hasStaged: Bool { !stagedAcks.isEmpty || !stagedRejected.isEmpty || !deferred.isEmpty }

    /// Makes the staged batch durable (one transaction), then returns its acknowledgements and the results of the
    /// round logic it triggered.
    public func commit(now: Int64) throws -> [Outgoing] {
        lastCommitAccepted = 0
        guard let batch = takeStaged() else { return [] }
        try batch.persist()
        return try finish(batch, now: now)
    }

    /// What ``receive(update:topic:now:)`` and the round machine staged, taken out of the core: made durable by
    /// ``StagedBatch/persist()`` (on any thread), then handed back to ``finish(_:now:)``, which returns its
    /// acknowledgements and performs its round actions. ``commit(now:)`` does the three in a row; the service
    /// overlaps the middle one with receiving the next batch when the batch has no round actions.
    public func takeStaged() -> StagedBatch? {
        guard hasStaged else { return nil }
        defer {
            stagedAccepted.removeAll(keepingCapacity: true)
            stagedRejected.removeAll(keepingCapacity: true)
            stagedAcks.removeAll(keepingCapacity: true)
            deferred.removeAll()
        }
        return StagedBatch(
            store: store, task: spec.task, metrics: metrics, accepted: stagedAccepted, rejected: stagedRejected,
            acks: sealed(stagedAcks), actions: deferred)
    }

    /// After ``StagedBatch/persist()``: the batch's acknowledgements (unless the caller already sent them:
    /// `acknowledgements: false`) and whatever its round actions publish.
    public func finish(_ batch: StagedBatch, now: Int64, acknowledgements: Bool = true) throws
        -> [Outgoing]
    {
        lastCommitAccepted = batch.accepted.count
        var out = acknowledgements ? batch.acks : []
        out += sealed(try perform(batch.actions, now: now))
        metrics.participants.record(aggregator.count)
        return out
    }

    /// Time passed: deadlines become round actions, staged for the next batch; a root that waited for the
    /// shards' partials after a restart stops waiting. A shard has no rounds of its own.
    public func advance(now: Int64) {
        if let trust {
            for device in trust.refresh(now: now) where role.runsRounds {
                logger.info("\(device) was revoked or removed from the registry: offline")
                deferred += machine.handle(.deviceOffline(device, now: now))
            }
        }
        guard role.runsRounds else { return }
        deferred += machine.handle(.tick(now: now))
        guard let pending = rootPending, partialsCover(pending.participants) || now >= pending.notAfter else { return }
        let covered = Set(latestPartials.values.flatMap(\.devices))
        let available = pending.participants.filter(covered.contains)
        if available.isEmpty {
            // No shard has republished: keep waiting rather than publish an empty round.
            rootPending?.notAfter = now + role.graceMilliseconds
            logger.warning("round \(pending.round): no partials from the shards yet")
        } else {
            if available.count < pending.participants.count {
                logger.warning("round \(pending.round): aggregating without partials for some participants")
            }
            rootPending = nil
            deferred.append(.aggregate(round: pending.round, participants: available))
        }
    }

    /// Time passed, in one step (for tools and tests): ``advance(now:)``, a commit, and a shard's partial.
    public func tick(now: Int64) throws -> [Outgoing] {
        advance(now: now)
        return try commit(now: now) + shardPartial(now: now)
    }
}

extension WireError.Code {
    /// The reason name used in metrics and acknowledgements (`bad_checksum`, …).
    var name: String { "\(self)" }
}

/// A batch of accepted and rejected updates with their acknowledgements and round actions, taken out of the core
/// to be made durable (see ``AggregatorCore/takeStaged()``).
public struct StagedBatch: Sendable {
    let store: StateStore
    let task: String
    let metrics: AggregatorMetrics
    let accepted: [StateStore.AcceptedUpdate]
    let rejected: [StateStore.Rejection]
    let acks: [Outgoing]
    let actions: [RoundMachine.Action]

    /// Updates it accepts.
    public var acceptedCount: Int { accepted.count }

    /// The acknowledgements of its updates (to send once it is persisted).
    public var acknowledgements: [Outgoing] { acks }

    /// Whether finishing it performs round actions (aggregation, announcements): such a batch is finished before
    /// anything else is received, so a round only ever aggregates durable updates.
    public var hasActions: Bool { !actions.isEmpty }

    /// Commits the batch to SQLite (one transaction, fsync'd). Safe on any thread; batches are persisted one
    /// at a time, in order.
    public func persist() throws {
        let started = ContinuousClock.now
        try store.record(task: task, accepted: accepted, rejected: rejected)
        metrics.commitTime.record(ContinuousClock.now - started)
    }
}
