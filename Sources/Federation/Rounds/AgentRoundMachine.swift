/// A device's side of the rounds, without I/O: which round is open, which updates wait for their
/// acknowledgement (the outbox), when to resend, when to build an update, which model to adopt. Events in,
/// actions out, like the aggregator's ``RoundMachine``; the agent's service performs the actions (files,
/// MQTT) and reports their outcome back as events. Time is a number of milliseconds the caller supplies.
///
/// Rules:
/// - an update is built once per round the device is selected for, when it holds the round's model and enough
///   windows (``Configuration/minWindows``);
/// - it is stored in the outbox *before* it is first published, and published again every
///   ``Configuration/resendMilliseconds`` until an acknowledgement (accepted, duplicate or rejected) comes, or
///   a later synchronous round makes it useless; then the outbox forgets it;
/// - rounds and models belong to a federation epoch (the aggregator's state): within one they only move
///   forwards (an older announcement or model, such as a restarted broker's stale retained copy, is ignored with
///   a reason), and a new epoch (the aggregator's state was reset, its rounds start again from 1) is followed
///   with a memory of its own (``RoundMemory``); an unsigned announcement or model far ahead of what the
///   epoch has shown is not believed (see ``Configuration/unsignedJump``);
/// - a model is adopted when it is admitted and its hash differs from the one held.
public struct AgentRoundMachine: Sendable {
    /// Settings.
    public struct Configuration: Sendable, Hashable {
        /// This device's id (a round's selection names it).
        public var device: String
        /// Milliseconds between publications of an unacknowledged update.
        public var resendMilliseconds: Int64
        /// Windows a device must hold before it contributes.
        public var minWindows: Int
        /// How far past the newest round (or model round) of its epoch an unsigned announcement (or model) may
        /// be and still be believed, plus ``unsignedJumpPerSecond`` for each second since the epoch was last
        /// heard from. A signed one is believed at any distance. Development mode only: it keeps one forged
        /// round number (2³²−1) from shutting a device out of its federation.
        public var unsignedJump: UInt32
        /// Rounds added to ``unsignedJump`` per second of silence (a device that was away may find the
        /// federation far ahead).
        public var unsignedJumpPerSecond: UInt32
        /// How long the epoch followed must be silent before the device goes back to an epoch it left (an
        /// aggregator state restored from a backup).
        public var returnAfterMilliseconds: Int64

        /// Settings.
        public init(
            device: String, resendMilliseconds: Int64 = 3_000, minWindows: Int = 20, unsignedJump: UInt32 = 10_000,
            unsignedJumpPerSecond: UInt32 = 1_000, returnAfterMilliseconds: Int64 = 600_000
        ) {
            self.device = device
            self.resendMilliseconds = resendMilliseconds
            self.minWindows = minWindows
            self.unsignedJump = unsignedJump
            self.unsignedJumpPerSecond = unsignedJumpPerSecond
            self.returnAfterMilliseconds = returnAfterMilliseconds
        }
    }

    /// What happened.
    public enum Event: Sendable, Hashable {
        /// Start-up: the updates the outbox held, the round memory and the epoch they belong to (saved state).
        case restored(pending: [Pending], memory: RoundMemory, epoch: UInt64)
        /// A round announcement arrived (retained, or new); `verified`: its signature was checked.
        case announced(RoundAnnouncement, now: Int64, verified: Bool)
        /// The aggregator answered for an update.
        case acknowledged(UpdateAck)
        /// A model message arrived and decoded: its round, hash and epoch (0: none given).
        case modelOffered(round: UInt32, hash: UInt64, epoch: UInt64, now: Int64, verified: Bool)
        /// The model now held (after adopting, or restoring state).
        case modelHeld(round: UInt32, hash: UInt64)
        /// An update was built for a round (the payload to store, then publish).
        case built(round: UInt32, payload: [UInt8])
        /// No update could be built for a round (nothing to train on, not the right model): try again later.
        case notBuilt(round: UInt32)
        /// The outbox kept an update durably.
        case stored(round: UInt32)
        /// The outbox could not keep an update: it is not published (data accepted is data kept).
        case storeFailed(round: UInt32)
        /// An update was handed to the MQTT client.
        case published(round: UInt32, now: Int64)
        /// Time passed: is the broker connected, how many windows does the device hold.
        case tick(now: Int64, connected: Bool, windows: Int)
    }

    /// An update waiting for its acknowledgement.
    public struct Pending: Sendable, Hashable {
        /// Its round.
        public var round: UInt32
        /// The message.
        public var payload: [UInt8]
        /// When it was last published (ms), nil: not yet.
        public var sentAt: Int64?
        /// Whether the outbox holds it durably.
        public var stored: Bool

        /// A pending update.
        public init(round: UInt32, payload: [UInt8], sentAt: Int64? = nil, stored: Bool = true) {
            self.round = round
            self.payload = payload
            self.sentAt = sentAt
            self.stored = stored
        }
    }

    /// What to do.
    public enum Action: Sendable, Hashable {
        /// Train from the round's model and build an update for it (answer with `.built` or `.notBuilt`).
        case build(RoundAnnouncement)
        /// Keep the update in the outbox, durably (answer with `.stored` or `.storeFailed`).
        case store(round: UInt32, payload: [UInt8])
        /// Publish the update (answer with `.published`).
        case publish(round: UInt32, payload: [UInt8])
        /// The update is answered or useless: remove it from the outbox.
        case discard(round: UInt32)
        /// Adopt the model just offered.
        case adopt(round: UInt32)
        /// The aggregator rejected an update: its round and reason (for the log and the counters).
        case rejected(round: UInt32, reason: String)
        /// A message was not followed (`stale_round`, `stale_model`, `old_epoch`, `round_too_far`,
        /// `other_epoch`): for the counters.
        case ignored(reason: String, round: UInt32)
        /// The device now follows another federation epoch (the aggregator's state was reset).
        case enteredEpoch(UInt64)
    }

    /// The settings.
    public let configuration: Configuration
    /// The round announced last.
    public internal(set) var round: RoundAnnouncement?
    /// Updates waiting for their acknowledgement, by round.
    public internal(set) var pending: [UInt32: Pending] = [:]
    /// The epoch followed (0: none yet, or an aggregator from before epochs).
    public internal(set) var epoch: UInt64 = 0
    /// What each epoch showed (saved with the agent's state).
    public internal(set) var memory = RoundMemory()
    /// The newest round of the current epoch an update was built for (never built twice).
    public var lastBuiltRound: UInt32 { memory[epoch]?.built ?? 0 }
    /// The model held: its round and hash.
    public private(set) var model: (round: UInt32, hash: UInt64) = (0, 0)
    /// A build is under way for this round.
    var building: UInt32?

    /// A machine with nothing pending.
    public init(configuration: Configuration) {
        self.configuration = configuration
    }

    /// Takes an event; returns what to do, in order.
    public mutating func handle(_ event: Event) -> [Action] {
        switch event {
        case .restored(let waiting, let saved, let savedEpoch):
            memory = saved
            epoch = savedEpoch
            for update in waiting where pending[update.round] == nil {
                pending[update.round] = Pending(round: update.round, payload: update.payload, stored: true)
                memory.update(epoch) { $0.built = Swift.max($0.built, update.round) }
            }
            return []
        case .announced(let announcement, let now, let verified):
            if let reason = refusal(
                epoch: announcement.epoch, round: announcement.round, hash: nil, now: now, verified: verified)
            {
                return [.ignored(reason: reason, round: announcement.round)]
            }
            var actions = enter(announcement.epoch, round: announcement.round)
            memory.update(epoch) {
                $0.round = Swift.max($0.round, announcement.round)
                $0.seenAt = now
            }
            round = announcement
            guard announcement.mode == .sync else { return actions }
            // A synchronous round makes every update for an earlier one useless.
            actions += pending.keys.sorted().filter { $0 < announcement.round }.map { old in
                pending[old] = nil
                return .discard(round: old)
            }
            return actions
        case .acknowledged(let ack):
            // An answer from another epoch's aggregator is not about this epoch's updates.
            if let from = ack.epoch?.value, from != epoch { return [.ignored(reason: "other_epoch", round: ack.round)] }
            guard pending.removeValue(forKey: ack.round) != nil else { return [] }
            var actions: [Action] = [.discard(round: ack.round)]
            if ack.status == .rejected { actions.append(.rejected(round: ack.round, reason: ack.reason ?? "")) }
            return actions
        case .modelOffered(let offeredRound, let hash, let offeredEpoch, let now, let verified):
            if let reason = refusal(epoch: offeredEpoch, round: offeredRound, hash: hash, now: now, verified: verified)
            {
                return [.ignored(reason: reason, round: offeredRound)]
            }
            var actions = enter(offeredEpoch, round: offeredRound)
            memory.update(epoch) {
                $0.modelRound = Swift.max($0.modelRound, offeredRound)
                $0.modelHash = hash
                $0.seenAt = now
            }
            if hash != model.hash { actions.append(.adopt(round: offeredRound)) }
            return actions
        case .modelHeld(let heldRound, let hash):
            model = (heldRound, hash)
            return []
        case .built(let builtRound, let payload):
            building = nil
            memory.update(epoch) { $0.built = Swift.max($0.built, builtRound) }
            pending[builtRound] = Pending(round: builtRound, payload: payload, stored: false)
            return [.store(round: builtRound, payload: payload)]
        case .notBuilt(let builtRound):
            if building == builtRound { building = nil }
            return []
        case .stored(let storedRound):
            pending[storedRound]?.stored = true
            return []
        case .storeFailed(let failedRound):
            // Not kept, not sent: a later tick builds nothing for this round again (lastBuiltRound), and the
            // failure is the service's to report.
            pending[failedRound] = nil
            return []
        case .published(let sentRound, let now):
            pending[sentRound]?.sentAt = now
            return []
        case .tick(let now, let connected, let windows):
            var actions: [Action] = []
            if let round, round.epoch == epoch, building == nil, pending[round.round] == nil,
                round.round > lastBuiltRound,
                round.includes(configuration.device), round.modelHash.value == model.hash,
                windows >= configuration.minWindows
            {
                building = round.round
                actions.append(.build(round))
            }
            guard connected else { return actions }
            for update in pending.values.sorted(by: { $0.round < $1.round }) where update.stored {
                if let sentAt = update.sentAt, now - sentAt < configuration.resendMilliseconds { continue }
                actions.append(.publish(round: update.round, payload: update.payload))
            }
            return actions
        }
    }

    /// When the next resend falls due (ms), for the service's wait; nil when nothing waits.
    public func nextResend() -> Int64? {
        pending.values.compactMap { $0.sentAt.map { $0 + configuration.resendMilliseconds } }.min()
    }
}
