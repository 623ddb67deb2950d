extension AgentRoundMachine {
    /// Why an announcement (`hash` nil) or a model of `epoch` is not followed, or nil when it is.
    ///
    /// Within a remembered epoch: a round (model round) older than the newest seen is stale; a message of an
    /// epoch the device has left is followed only if it shows something new there (a round past the newest
    /// seen, or another model), so a broker's stale copy of a dead epoch cannot pull the device back. An
    /// unsigned message may be at most ``Configuration/unsignedJump`` (plus the silence allowance) past what
    /// its epoch showed.
    func refusal(epoch offered: UInt64, round: UInt32, hash: UInt64?, now: Int64, verified: Bool) -> String? {
        guard let known = memory[offered] else { return nil }
        let newest = hash == nil ? known.round : known.modelRound
        if round < newest { return hash == nil ? "stale_round" : "stale_model" }
        if offered != epoch {
            let nothingNew = hash.map { $0 == known.modelHash } ?? (round == known.round)
            if nothingNew { return "old_epoch" }
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

    /// Follows `offered` if it is another epoch: updates waiting for an answer belong to the epoch left (its
    /// aggregator is gone), so they are discarded.
    mutating func enter(_ offered: UInt64) -> [Action] {
        guard offered != epoch else { return [] }
        epoch = offered
        building = nil
        var actions: [Action] = [.enteredEpoch(offered)]
        for old in pending.keys.sorted() {
            pending[old] = nil
            actions.append(.discard(round: old))
        }
        return actions
    }
}
