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
/// - a model is adopted when its hash differs from the one held (an older round's model too: after the
///   aggregator's state is reset, its rounds start again from 1).
public struct AgentRoundMachine: Sendable {
    /// Settings.
    public struct Configuration: Sendable, Hashable {
        /// This device's id (a round's selection names it).
        public var device: String
        /// Milliseconds between publications of an unacknowledged update.
        public var resendMilliseconds: Int64
        /// Windows a device must hold before it contributes.
        public var minWindows: Int

        /// Settings.
        public init(device: String, resendMilliseconds: Int64 = 3_000, minWindows: Int = 20) {
            self.device = device
            self.resendMilliseconds = resendMilliseconds
            self.minWindows = minWindows
        }
    }

    /// What happened.
    public enum Event: Sendable, Hashable {
        /// Start-up: the updates the outbox held, and the newest round an update was sent for (saved state).
        case restored(pending: [Pending], lastSentRound: UInt32)
        /// A round announcement arrived (retained, or new).
        case announced(RoundAnnouncement)
        /// The aggregator answered for an update.
        case acknowledged(UpdateAck)
        /// A model message arrived and decoded: its round and hash.
        case modelOffered(round: UInt32, hash: UInt64)
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
    }

    /// The settings.
    public let configuration: Configuration
    /// The round announced last.
    public private(set) var round: RoundAnnouncement?
    /// Updates waiting for their acknowledgement, by round.
    public private(set) var pending: [UInt32: Pending] = [:]
    /// The newest round an update was built for (never built twice).
    public private(set) var lastBuiltRound: UInt32 = 0
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
        case .restored(let waiting, let lastSent):
            lastBuiltRound = Swift.max(lastBuiltRound, lastSent)
            for update in waiting where pending[update.round] == nil {
                pending[update.round] = Pending(round: update.round, payload: update.payload, stored: true)
                lastBuiltRound = Swift.max(lastBuiltRound, update.round)
            }
            return []
        case .announced(let announcement):
            round = announcement
            guard announcement.mode == .sync else { return [] }
            // A synchronous round makes every update for an earlier one useless.
            return pending.keys.sorted().filter { $0 < announcement.round }.map { old in
                pending[old] = nil
                return .discard(round: old)
            }
        case .acknowledged(let ack):
            guard pending.removeValue(forKey: ack.round) != nil else { return [] }
            var actions: [Action] = [.discard(round: ack.round)]
            if ack.status == .rejected { actions.append(.rejected(round: ack.round, reason: ack.reason ?? "")) }
            return actions
        case .modelOffered(let offeredRound, let hash):
            guard hash != model.hash else { return [] }
            return [.adopt(round: offeredRound)]
        case .modelHeld(let heldRound, let hash):
            model = (heldRound, hash)
            return []
        case .built(let builtRound, let payload):
            building = nil
            lastBuiltRound = Swift.max(lastBuiltRound, builtRound)
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
            if let round, building == nil, pending[round.round] == nil, round.round > lastBuiltRound,
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
