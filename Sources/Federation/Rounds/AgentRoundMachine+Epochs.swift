extension AgentRoundMachine {
    /// Why an announcement (`hash` nil) or a model of `epoch` is not followed, or nil when it is.
    ///
    /// Within a remembered epoch: a round (model round) older than the newest seen is stale. An epoch the
    /// device has left (entered before the current one) is not returned to — a restored broker's copies of a dead
    /// epoch may even show rounds the device never saw — unless the current epoch has been silent for
    /// ``Configuration/returnAfterMilliseconds`` (an aggregator state restored from a backup is followed then).
    /// An unsigned message may be at most ``Configuration/unsignedJump`` (plus the silence allowance) past what
    /// its epoch showed.
    func refusal(epoch offered: UInt64, round: UInt32, hash: UInt64?, now: Int64, verified: Bool) -> String? {
        guard let known = memory[offered] else { return nil }
        let newest = hash == nil ? known.round : known.modelRound
        if round < newest { return hash == nil ? "stale_round" : "stale_model" }
        if offered != epoch, let current = memory[epoch], known.order < current.order,
            now - current.seenAt < configuration.returnAfterMilliseconds
        {
            return "old_epoch"
        }
        if !verified {
            let silence = UInt64(Swift.max(0, now - known.seenAt) / 1_000)
            let allowed =
                UInt64(newest) + UInt64(configuration.unsignedJump) + silence
                * UInt64(configuration.unsignedJumpPerSecond)
            if UInt64(round) > allowed { return "round_too_far" }
        }
        return nil
    }

    /// Follows `offered` if it is another epoch, at `round` (the message's round): updates waiting for an answer
    /// belong to the epoch left (its aggregator is gone), so they are discarded, and the round announced there
    /// is forgotten. Leaving epoch 0 (an agent state from before epochs, or an aggregator without them) for an
    /// epoch whose rounds go on from where epoch 0's were is an upgrade, not a reset: its memory and updates
    /// carry over.
    mutating func enter(_ offered: UInt64, round offeredRound: UInt32) -> [Action] {
        guard offered != epoch else { return [] }
        let left = epoch
        epoch = offered
        if left == 0, memory[offered] == nil, let old = memory[0], offeredRound >= old.round {
            memory.rename(0, to: offered)
            return [.enteredEpoch(offered)]
        }
        building = nil
        round = nil
        var actions: [Action] = [.enteredEpoch(offered)]
        for old in pending.keys.sorted() {
            pending[old] = nil
            actions.append(.discard(round: old))
        }
        return actions
    }
}
