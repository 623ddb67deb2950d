import Federation
import Foundation
import UpdateCodec

extension AggregatorCore {
    /// Carries out the round logic's decisions; returns what to publish.
    func perform(_ actions: [RoundMachine.Action], now: Int64) throws -> [Outgoing] {
        var out: [Outgoing] = []
        var queue = actions[...]
        while let action = queue.popFirst() {
            switch action {
            case .announce(let plan):
                roundStarted = now
                roundBytes = 0
                roundRejected = [:]
                roundAccuracies = [:]
                metrics.round.record(Int(plan.round))
                let config = machine.configuration
                // The root's own deadline includes the grace for shards' last partials; devices get the real one.
                let grace = role.isRoot && plan.deadline > 0 ? role.graceMilliseconds : 0
                let announcement = RoundAnnouncement(
                    task: spec.task, round: plan.round, specHash: spec.hash?.value ?? spec.contentHash,
                    modelHash: plan.modelHash, mode: config.mode == .synchronous ? .sync : .async,
                    deadlineMs: plan.deadline - grace, selection: config.selection, devices: plan.devices,
                    training: config.training, epoch: epoch)
                logger.info(
                    "round \(plan.round) announced: \(plan.devices.isEmpty ? "open to all" : "\(plan.devices.count) devices selected")"
                )
                let message = Outgoing(topic: topics.round, payload: announcement.json, retain: true)
                lastAnnouncement = message
                out.append(message)
                try store.saveMachine(task: spec.task, machine: snapshotJSON)
            case .aggregate(let round, let participants):
                if role.isRoot {
                    // The root merges the shards' partials; after a restart it waits (up to the grace time) for
                    // them to be published again.
                    guard partialsCover(participants) else {
                        rootPending = (round, participants, now + role.graceMilliseconds)
                        continue
                    }
                    rootPending = nil
                    try mergePartials()
                    latestPartials = [:]
                }
                let (messages, next) = try aggregate(round: round, participants: participants, now: now)
                out += messages
                queue += next
            case .fail(let round, let accepted):
                out.append(
                    try failRound(
                        round, accepted: accepted,
                        reason:
                            "\(accepted.count) of \(config.rounds.minParticipants) required updates by the deadline",
                        now: now))
            case .finish:
                finished = true
                logger.info("task \(spec.task) finished after \(machine.completedRounds) rounds")
            case .accept, .reject:
                break  // handled where updates are received
            }
        }
        return out
    }

    /// Ends `round` without a new model: failed metrics (retained), a durable round record; the model stays.
    func failRound(_ round: UInt32, accepted: [String], reason: String, now: Int64) throws -> Outgoing {
        latestPartials = [:]
        let result = RoundMetrics(
            task: spec.task, round: round, status: .failed, reason: reason, accepted: accepted,
            rejected: roundRejected, totalWeight: aggregator.totalWeight, modelHash: machine.modelHash, updateNorm: 0,
            modelNorm: norm(model), durationMs: now - roundStarted, bytesIn: roundBytes)
        aggregator.reset()
        duplicates.removeAll()
        metrics.roundsFailed.increment()
        logger.warning("round \(round) failed: \(reason)")
        try store.finishRound(
            task: spec.task, round: round, status: "failed", participants: accepted,
            totalWeight: result.totalWeight, modelHash: "\(HexHash(machine.modelHash))", checkpoint: nil,
            metrics: result.json, machine: snapshotJSON, at: now)
        lastMetrics = result
        return Outgoing(topic: topics.metrics, payload: result.json, retain: true)
    }

    /// Applies the round's aggregate: new model, checkpoint, durable round record, then the messages. An
    /// aggregate that is not finite fails the round instead: the model and the optimizer stay as they were.
    func aggregate(round: UInt32, participants: [String], now: Int64) throws
        -> (messages: [Outgoing], next: [RoundMachine.Action])
    {
        let started = ContinuousClock.now
        var next = model
        var nextOptimizer = optimizer
        let report: AggregationReport
        do { report = try aggregator.apply(to: &next, optimizer: &nextOptimizer) } catch {
            throw AggregationFailure("aggregating round \(round)", underlying: error)
        }
        guard Self.allFinite(next), Self.allFinite(nextOptimizer.m), Self.allFinite(nextOptimizer.v) else {
            // The machine moves on first, so the snapshot the round record keeps is past this round.
            let next = machine.handle(.aggregationFailed(round: round, now: now))
            let failed = try failRound(
                round, accepted: participants,
                reason:
                    "the aggregate of \(participants.count) updates is not finite (non_finite_model): the model stays",
                now: now)
            return ([failed], next)
        }
        model = next
        optimizer = nextOptimizer
        // A sparse downlink: the delta devices get, the broadcast model advanced by it.
        var delta: [UInt8]?
        if downlink != nil {
            let k = Swift.max(1, Int((Double(model.count) * spec.codec.downlinkKFraction).rounded()))
            delta = try downlink!.next(
                model: model, task: spec.task, round: round + 1, k: Swift.min(k, model.count), encoding: .int8,
                encoder: &encoder, epoch: epoch)
        }
        let applied = ContinuousClock.now
        let hash = ModelHash.of(broadcast)
        let path = try checkpoints.write(
            Checkpoint(round: round, model: model, optimizer: optimizer, broadcast: downlink?.deviceModel),
            task: spec.task)
        let checkpointed = ContinuousClock.now
        let followUp = machine.handle(.aggregated(round: round, modelHash: hash, now: now))
        let evaluated = evaluation?.evaluate(broadcast, spec: spec)
        var result = RoundMetrics(
            task: spec.task, round: round, status: .aggregated, accepted: participants, rejected: roundRejected,
            totalWeight: report.totalWeight, modelHash: hash, updateNorm: report.updateNorm, modelNorm: norm(model),
            durationMs: now - roundStarted, bytesIn: roundBytes, evaluation: evaluated)
        if report.clipped > 0 {
            result.clipped = report.clipped
            metrics.clipped.increment(by: report.clipped)
        }
        let reported = participants.compactMap { roundAccuracies[$0] }
        if !reported.isEmpty {
            result.holdoutAccuracy = (reported.reduce(0, +) / Double(reported.count) * 10_000).rounded() / 10_000
            result.holdoutDevices = reported.count
        }
        try store.finishRound(
            task: spec.task, round: round, status: "aggregated", participants: participants,
            totalWeight: report.totalWeight, modelHash: "\(HexHash(hash))", checkpoint: path, metrics: result.json,
            machine: snapshotJSON, at: now)
        let recorded = ContinuousClock.now
        payloadsToPrune = true
        aggregator.reset()
        duplicates.removeAll()
        lastMetrics = result
        metrics.roundsAggregated.increment()
        metrics.modelNorm.record(result.modelNorm)
        metrics.updateNorm.record(result.updateNorm)
        metrics.aggregationTime.record(ContinuousClock.now - started)
        logger.info(
            "round \(round) aggregated: \(participants.count) updates, weight \(report.totalWeight), ‖Δ‖ \(report.updateNorm), model \(HexHash(hash))"
        )
        if let evaluated {
            metrics.evaluationLoss.record(evaluated.loss)
            if let accuracy = evaluated.accuracy { metrics.evaluationAccuracy.record(accuracy) }
            logger.info(
                "round \(round) central evaluation: accuracy \(evaluated.accuracy.map { "\($0)" } ?? "-"), loss \(evaluated.loss) on \(evaluated.samples) windows"
            )
        }
        var messages = [try modelMessage(round: round + 1)]
        // Devices that hold the previous model apply the delta; newcomers take the retained full model.
        if let delta { messages.append(Outgoing(topic: topics.modelDelta, payload: delta)) }
        messages.append(Outgoing(topic: topics.metrics, payload: result.json, retain: true))
        logger.debug(
            "round \(round) timing: apply \(applied - started), checkpoint \(checkpointed - applied), record \(recorded - checkpointed), messages \(ContinuousClock.now - recorded)"
        )
        return (messages, followUp)
    }

    static func allFinite(_ x: [Float]) -> Bool {
        x.withUnsafeBufferPointer { x in
            var finite = true
            for v in x where !v.isFinite { finite = false }
            return finite
        }
    }

    func norm(_ x: [Float]) -> Double {
        var sum = 0.0
        for v in x { sum += Double(v) * Double(v) }
        return sum.squareRoot()
    }
}
