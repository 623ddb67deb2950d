import Federation
import UpdateCodec

/// Hierarchical mode: shards split a task's updates through a shared subscription and publish cumulative partial
/// aggregates; the root runs the rounds and merges the shards' partials into the new model.
extension AggregatorCore {
    // MARK: Shard

    /// Shard: the round logic for one update, against the root's announcement.
    func shardDecision(device: String, header: UpdateHeader, now: Int64) -> RoundMachine.Action {
        guard let round = following else {
            return .reject(device: device, round: header.round, reason: .notCollecting)
        }
        if header.round > round.round { return .reject(device: device, round: header.round, reason: .futureRound) }
        if header.round < round.round || (round.deadlineMs > 0 && now > round.deadlineMs) {
            return .reject(device: device, round: header.round, reason: .lateRound)
        }
        guard round.includes(device) else { return .reject(device: device, round: header.round, reason: .notSelected) }
        guard header.baseModelHash == round.modelHash.value else {
            return .reject(device: device, round: header.round, reason: .staleModel)
        }
        return .accept(device: device, round: header.round, staleness: 0)
    }

    /// Shard: the root announced a round (the retained message).
    public func receive(round payload: [UInt8], now: Int64) throws -> [Outgoing] {
        guard role.shardID != nil else { return [] }
        guard let body = openAggregatorJSON(payload, what: "round announcement") else { return [] }
        guard let announcement = try? RoundAnnouncement.decode(body), announcement.task == spec.task else {
            logger.warning("ignoring an invalid round announcement")
            return []
        }
        guard announcement.specHash.value == spec.hash?.value else {
            logger.error(
                "the root announces spec \(announcement.specHash), this shard has \(spec.hash.map { "\($0)" } ?? "none")"
            )
            return []
        }
        guard announcement.round != following?.round else {
            following = announcement
            return []
        }
        // A new round: earlier rounds' updates were forwarded (their partials are the root's now).
        if let previous = following {
            logger.info("round \(previous.round) forwarded: \(aggregator.count) updates")
        }
        try store.markForwarded(task: spec.task, before: announcement.round)
        following = announcement
        duplicates.removeAll()
        try rebuildAggregate()
        for update in try store.pendingUpdates(task: spec.task) {
            duplicates.insert(round: update.round, device: update.device)
        }
        partialDirty = aggregator.count > 0
        metrics.round.record(Int(announcement.round))
        logger.info("following round \(announcement.round) (\(aggregator.count) updates already held)")
        return []
    }

    /// Shard: the cumulative partial, every half second while updates arrive and every second after the
    /// deadline, until the next round is announced.
    public func shardPartial(now: Int64) -> [Outgoing] {
        guard let shard = role.shardID, let round = following, aggregator.count > 0 else { return [] }
        let afterDeadline = round.deadlineMs > 0 && now >= round.deadlineMs
        guard (partialDirty && now - lastPartialAt >= 500) || (afterDeadline && now - lastPartialAt >= 1_000) else {
            return []
        }
        guard let partial = try? aggregator.partial() else { return [] }
        partialSeq &+= 1
        lastPartialAt = now
        partialDirty = false
        let message = PartialMessage(
            task: spec.task, round: round.round, shard: shard, seq: partialSeq, partial: partial)
        return sealed([Outgoing(topic: topics.partial(shard), payload: message.json)])
    }

    // MARK: Root

    /// Root: a shard's partial arrived.
    public func receive(partial payload: [UInt8], topic: String, now: Int64) {
        guard role.isRoot, let shard = topics.shard(inPartialTopic: topic),
            role.shards.contains(shard)
        else { return }
        guard let body = openAggregatorJSON(payload, what: "partial from \(shard)") else {
            metrics.rejected("bad_partial")
            return
        }
        guard let message = try? PartialMessage.decode(body), message.shard == shard, message.task == spec.task,
            message.dimension == spec.dimension
        else {
            metrics.rejected("bad_partial")
            logger.warning("ignoring an invalid partial from \(shard)")
            return
        }
        guard message.round == machine.round else { return }
        if let existing = latestPartials[shard], existing.seq >= message.seq { return }
        latestPartials[shard] = message
        roundBytes += payload.count
        let accepted = Set(machine.accepted.map(\.device))
        for device in message.devices where !accepted.contains(device) {
            for action in machine.handle(
                .update(device: device, round: message.round, baseModelHash: machine.modelHash, now: now))
            {
                switch action {
                case .accept: metrics.accepted.increment()
                case .reject(_, _, let reason):
                    logger.warning("root refused \(device) from \(shard): \(reason.rawValue)")
                default: deferred.append(action)
                }
            }
        }
    }

    /// Root: whether the shards' partials cover the participants.
    func partialsCover(_ participants: [String]) -> Bool {
        let covered = Set(latestPartials.values.flatMap(\.devices))
        return participants.allSatisfy(covered.contains)
    }

    /// Root: rebuilds the round's aggregate from the latest partials.
    func mergePartials() throws {
        aggregator.reset()
        for message in latestPartials.values.sorted(by: { $0.shard < $1.shard }) {
            do { try aggregator.merge(try message.partial()) } catch {
                throw AggregationFailure("merging the partial of \(message.shard)", underlying: error)
            }
        }
    }
}
