import TributaryMath

/// The round logic of an aggregator as a plain state machine: it takes events (time passing, devices coming and
/// going, updates arriving, aggregations finishing) and returns the actions to take. No I/O, no clock: the
/// service feeds it, executes its actions, and persists its ``snapshot`` so a restarted aggregator resumes the
/// round it was in.
///
/// Synchronous mode (the default): a round is announced with a deadline and a selection; updates for it are
/// accepted once per device while it collects; it aggregates when every expected device has reported, or at
/// the deadline if at least `minParticipants` have, and otherwise fails and the next round starts from the same
/// model. Asynchronous mode (FedBuff, Nguyen et al. 2022): updates trained on any of the last `maxStaleness`
/// model versions are accepted, and every `bufferSize` accepted updates make a new version.
public struct RoundMachine: Sendable {
    /// How rounds run.
    public struct Configuration: Sendable, Hashable {
        /// Synchronous rounds or buffered asynchronous aggregation.
        public enum Mode: Sendable, Hashable {
            /// Rounds with deadlines.
            case synchronous
            /// FedBuff: aggregate every `bufferSize` accepted updates; accept updates at most `maxStaleness`
            /// versions old.
            case buffered(bufferSize: Int, maxStaleness: Int)
        }

        /// The mode.
        public var mode: Mode = .synchronous
        /// Which devices a round asks for.
        public var selection = Selection()
        /// Fewest accepted updates that make a round (or a buffer flushed by its deadline).
        public var minParticipants = 1
        /// How long a round collects (in buffered mode: how long a partly filled buffer waits).
        public var roundMilliseconds: Int64 = 60_000
        /// Stop after this many aggregated rounds (nil: run until stopped).
        public var maxRounds: Int?
        /// Local training settings sent with each announcement.
        public var training = LocalTraining()

        /// Creates a configuration.
        public init(
            mode: Mode = .synchronous, selection: Selection = Selection(), minParticipants: Int = 1,
            roundMilliseconds: Int64 = 60_000, maxRounds: Int? = nil, training: LocalTraining = LocalTraining()
        ) {
            self.mode = mode
            self.selection = selection
            self.minParticipants = minParticipants
            self.roundMilliseconds = roundMilliseconds
            self.maxRounds = maxRounds
            self.training = training
        }
    }

    /// What the machine is doing.
    public enum Phase: Sendable, Hashable {
        /// Not started: devices are noted, nothing is announced.
        case idle
        /// Waiting for enough devices to start a selected round.
        case waiting
        /// Collecting updates for the current round.
        case collecting
        /// Aggregation requested; waiting for ``Event/aggregated(round:modelHash:)``.
        case aggregating
        /// `maxRounds` reached.
        case finished
    }

    /// Something that happened.
    public enum Event: Sendable, Hashable {
        /// The service started (or restarted) at `now` (ms).
        case start(now: Int64)
        /// A device announced itself online.
        case deviceOnline(String, now: Int64)
        /// A device went offline (its will, or a clean stop).
        case deviceOffline(String, now: Int64)
        /// A valid update arrived: for `round`, trained from the model with `baseModelHash`.
        case update(device: String, round: UInt32, baseModelHash: UInt64, now: Int64)
        /// Time passed.
        case tick(now: Int64)
        /// The service applied the aggregation of `round`; the new global model has `modelHash`.
        case aggregated(round: UInt32, modelHash: UInt64, now: Int64)
        /// The service could not use the aggregate of `round` (it was not finite): the model stays, the round's
        /// updates are dropped, and the next round starts from the same model.
        case aggregationFailed(round: UInt32, now: Int64)
    }

    /// Why an update is refused by the round logic (the codec's reasons come before these).
    public enum Rejection: String, Sendable, Hashable, CaseIterable {
        /// For a round that is over.
        case lateRound = "late_round"
        /// For a round not announced yet.
        case futureRound = "future_round"
        /// From a device the round did not select.
        case notSelected = "not_selected"
        /// Trained from another model than the round's.
        case staleModel = "stale_model"
        /// Buffered mode: trained from a model more than `maxStaleness` versions old.
        case tooStale = "too_stale"
        /// No round is collecting (waiting for devices, aggregating, finished).
        case notCollecting = "not_collecting"
    }

    /// A round to announce.
    public struct Plan: Sendable, Hashable {
        /// Round id (model version in buffered mode).
        public var round: UInt32
        /// Deadline (ms; 0 in buffered mode).
        public var deadline: Int64
        /// Selected devices (empty: open to all).
        public var devices: [String]
        /// Hash of the model to train from.
        public var modelHash: UInt64
    }

    /// What the service must do.
    public enum Action: Sendable, Hashable {
        /// Publish the retained round announcement.
        case announce(Plan)
        /// Fold the update into the round's aggregate, make it durable, then acknowledge it. `staleness` is
        /// the number of versions between its base model and the current one (0 in synchronous mode).
        case accept(device: String, round: UInt32, staleness: Int)
        /// Refuse the update (count the reason; acknowledge it as rejected).
        case reject(device: String, round: UInt32, reason: Rejection)
        /// Aggregate the accepted updates of `round`, publish the model, then send ``Event/aggregated``.
        case aggregate(round: UInt32, participants: [String])
        /// The round ended without enough updates: publish failed metrics; the model stays.
        case fail(round: UInt32, accepted: [String])
        /// `maxRounds` reached: the service may stop.
        case finish
    }

    /// Everything needed to resume after a restart.
    public struct Snapshot: Sendable, Hashable, Codable {
        /// Current round (model version).
        public var round: UInt32
        /// Rounds aggregated so far.
        public var completedRounds: Int
        /// Phase as text: waiting, collecting, aggregating, finished.
        public var phase: String
        /// Current round's deadline (ms).
        public var deadline: Int64
        /// Selected devices (empty: open).
        public var selected: [String]
        /// Devices expected to report (open rounds: those online at the start).
        public var expected: [String]
        /// Accepted updates of the current round (buffered mode: of the buffer), as `device@round`.
        public var accepted: [String]
        /// Hash of the current model, and in buffered mode of the recent versions (index = age).
        public var modelHashes: [UInt64]
        /// Devices known to be online.
        public var online: [String]
        /// When the buffer's first update arrived (buffered mode).
        public var bufferStart: Int64
    }

    /// The configuration.
    public let configuration: Configuration
    /// The phase.
    public private(set) var phase: Phase = .idle
    /// Current round id (model version).
    public private(set) var round: UInt32
    /// Rounds aggregated.
    public private(set) var completedRounds = 0
    /// Current round's deadline (ms).
    public private(set) var deadline: Int64 = 0
    /// Devices the round selected (empty: open).
    public private(set) var selected: [String] = []
    /// Devices expected to report before the deadline.
    public private(set) var expected: Set<String> = []
    /// Accepted `(device, round)` pairs of the round (buffered mode: of the buffer).
    public private(set) var accepted: [AcceptedUpdate] = []
    /// The same, as a set, and the devices among them; and how many expected devices have not reported (kept
    /// up to date so each update costs O(1), not O(participants)).
    var acceptedKeys: Set<AcceptedUpdate> = []
    var reported: Set<String> = []
    var missingExpected = 0
    /// Devices online.
    public private(set) var online: Set<String> = []
    /// Current model hash first, then older versions' (buffered mode).
    public private(set) var modelHashes: [UInt64]
    var bufferStart: Int64 = 0

    /// One accepted update.
    public struct AcceptedUpdate: Sendable, Hashable {
        /// The device.
        public var device: String
        /// The round (version) it was trained for.
        public var round: UInt32

        /// Creates a record.
        public init(device: String, round: UInt32) {
            self.device = device
            self.round = round
        }
    }

    /// A machine at round `round` (the next announcement is `round + 1`) with the model `modelHash`.
    public init(configuration: Configuration, round: UInt32 = 0, modelHash: UInt64) {
        self.configuration = configuration
        self.round = round
        modelHashes = [modelHash]
    }

    /// Resumes from a snapshot.
    public init(configuration: Configuration, restoring s: Snapshot) {
        self.configuration = configuration
        round = s.round
        completedRounds = s.completedRounds
        phase =
            switch s.phase {
            case "collecting": .collecting
            case "aggregating": .aggregating
            case "finished": .finished
            case "waiting": .waiting
            default: .idle
            }
        deadline = s.deadline
        selected = s.selected
        expected = Set(s.expected)
        accepted = s.accepted.compactMap { entry in
            guard let at = entry.lastIndex(of: "@"), let r = UInt32(entry[entry.index(after: at)...]) else {
                return nil
            }
            return AcceptedUpdate(device: String(entry[..<at]), round: r)
        }
        modelHashes = s.modelHashes.isEmpty ? [0] : s.modelHashes
        online = Set(s.online)
        bufferStart = s.bufferStart
        acceptedKeys = Set(accepted)
        reported = Set(accepted.map(\.device))
        missingExpected = expected.subtracting(reported).count
    }

    /// Sets the accepted updates of the current round (buffer) after a restart, from durable storage: snapshots
    /// need not carry them.
    public mutating func restoreAccepted(_ updates: [AcceptedUpdate]) {
        clearAccepted()
        for update in updates where !acceptedKeys.contains(update) { addAccepted(update) }
    }

    mutating func clearAccepted() {
        accepted = []
        acceptedKeys = []
        reported = []
        missingExpected = expected.count
    }

    mutating func addAccepted(_ update: AcceptedUpdate) {
        accepted.append(update)
        acceptedKeys.insert(update)
        if reported.insert(update.device).inserted && expected.contains(update.device) { missingExpected -= 1 }
    }

    mutating func expect(_ device: String) {
        if expected.insert(device).inserted && !reported.contains(device) { missingExpected += 1 }
    }

    mutating func unexpect(_ device: String) -> Bool {
        guard expected.remove(device) != nil else { return false }
        if !reported.contains(device) { missingExpected -= 1 }
        return true
    }

    /// The state to persist.
    public var snapshot: Snapshot {
        let phaseName =
            switch phase {
            case .idle: "idle"
            case .waiting: "waiting"
            case .collecting: "collecting"
            case .aggregating: "aggregating"
            case .finished: "finished"
            }
        return Snapshot(
            round: round, completedRounds: completedRounds, phase: phaseName, deadline: deadline, selected: selected,
            expected: expected.sorted(), accepted: accepted.map { "\($0.device)@\($0.round)" },
            modelHashes: modelHashes, online: online.sorted(), bufferStart: bufferStart)
    }

    /// The current global model's hash.
    public var modelHash: UInt64 { modelHashes[0] }

    /// Handles one event.
    public mutating func handle(_ event: Event) -> [Action] {
        switch event {
        case .start(let now):
            switch phase {
            case .idle, .waiting:
                phase = .waiting
                return startRound(now: now)
            // Resuming: re-announce what is in force (the retained message may have been lost with the broker).
            case .collecting: return [.announce(plan)] + checkComplete(now: now)
            case .aggregating: return [.aggregate(round: round, participants: participants)]
            case .finished: return [.finish]
            }
        case .deviceOnline(let device, let now):
            online.insert(device)
            switch phase {
            case .waiting: return startRound(now: now)
            // An open round expects every device online while it collects.
            case .collecting where selected.isEmpty && configuration.mode == .synchronous:
                expect(device)
                return []
            default: return []
            }
        case .deviceOffline(let device, let now):
            online.remove(device)
            // A selected device that left will not report: stop waiting for it.
            guard phase == .collecting, unexpect(device) else { return [] }
            return checkComplete(now: now)
        case .update(let device, let updateRound, let baseHash, let now):
            return receive(device: device, round: updateRound, baseHash: baseHash, now: now)
        case .tick(let now):
            switch phase {
            case .collecting: return checkDeadline(now: now)
            case .waiting: return startRound(now: now)
            case .idle, .aggregating, .finished: return []
            }
        case .aggregated(let aggregatedRound, let hash, let now):
            guard phase == .aggregating, aggregatedRound == round else { return [] }
            completedRounds += 1
            switch configuration.mode {
            case .synchronous:
                modelHashes = [hash]
            case .buffered(_, let maxStaleness):
                modelHashes = Array(([hash] + modelHashes).prefix(maxStaleness + 1))
                round &+= 1
            }
            clearAccepted()
            phase = .waiting
            if let max = configuration.maxRounds, completedRounds >= max {
                phase = .finished
                return [.finish]
            }
            return startRound(now: now)
        case .aggregationFailed(let failedRound, let now):
            guard phase == .aggregating, failedRound == round else { return [] }
            clearAccepted()
            phase = .waiting
            return startRound(now: now)
        }
    }

    var plan: Plan {
        Plan(round: round, deadline: deadline, devices: selected, modelHash: modelHash)
    }

    var participants: [String] { accepted.map(\.device).sorted() }

    mutating func startRound(now: Int64) -> [Action] {
        guard phase == .waiting else { return [] }
        switch configuration.mode {
        case .buffered:
            // The round id is the model version: 1 for the initial model, one more per aggregation.
            if round == 0 { round = 1 }
            phase = .collecting
            deadline = 0
            selected = []
            expected = []
            bufferStart = 0
            return [.announce(plan)]
        case .synchronous:
            let candidates = online.sorted()
            let selection = configuration.selection
            var chosen: [String] = []
            switch selection.mode {
            case .all:
                chosen = []
            case .fraction, .count:
                let wanted =
                    selection.mode == .count
                    ? Int(selection.value) : Int((Double(candidates.count) * selection.value).rounded(.up))
                // Wait until enough devices are online to make a round worth announcing.
                guard candidates.count >= configuration.minParticipants, wanted >= 1 else { return [] }
                chosen = Self.draw(
                    candidates, count: Swift.min(wanted, candidates.count),
                    seed: selection.seed ^ UInt64(round &+ 1))
            }
            round &+= 1
            phase = .collecting
            deadline = now + configuration.roundMilliseconds
            selected = chosen
            expected = selected.isEmpty ? online : Set(selected)
            clearAccepted()
            return [.announce(plan)]
        }
    }

    mutating func receive(device: String, round updateRound: UInt32, baseHash: UInt64, now: Int64) -> [Action] {
        online.insert(device)
        // Resends are answered before the machine is asked (the aggregator's one duplicate check); an update
        // already counted changes nothing.
        if acceptedKeys.contains(AcceptedUpdate(device: device, round: updateRound)) { return [] }
        switch configuration.mode {
        case .synchronous:
            guard updateRound <= round else {
                return [.reject(device: device, round: updateRound, reason: .futureRound)]
            }
            guard updateRound == round, phase == .collecting else {
                return [.reject(device: device, round: updateRound, reason: .lateRound)]
            }
            guard selected.isEmpty || selected.contains(device) else {
                return [.reject(device: device, round: updateRound, reason: .notSelected)]
            }
            guard baseHash == modelHash else {
                return [.reject(device: device, round: updateRound, reason: .staleModel)]
            }
            addAccepted(AcceptedUpdate(device: device, round: updateRound))
            expect(device)
            return [.accept(device: device, round: updateRound, staleness: 0)] + checkComplete(now: now)
        case .buffered(let bufferSize, let maxStaleness):
            guard phase == .collecting else {
                return [.reject(device: device, round: updateRound, reason: .notCollecting)]
            }
            guard updateRound <= round else {
                return [.reject(device: device, round: updateRound, reason: .futureRound)]
            }
            let staleness = Int(round - updateRound)
            guard staleness <= maxStaleness, staleness < modelHashes.count else {
                return [.reject(device: device, round: updateRound, reason: .tooStale)]
            }
            guard modelHashes[staleness] == baseHash else {
                return [.reject(device: device, round: updateRound, reason: .staleModel)]
            }
            if accepted.isEmpty { bufferStart = now }
            addAccepted(AcceptedUpdate(device: device, round: updateRound))
            var actions: [Action] = [.accept(device: device, round: updateRound, staleness: staleness)]
            if accepted.count >= bufferSize {
                phase = .aggregating
                actions.append(.aggregate(round: round, participants: participants))
            }
            return actions
        }
    }

    /// Synchronous: aggregate as soon as every expected device has reported.
    mutating func checkComplete(now: Int64) -> [Action] {
        guard phase == .collecting, case .synchronous = configuration.mode else { return [] }
        guard !accepted.isEmpty, accepted.count >= configuration.minParticipants, missingExpected == 0
        else { return checkDeadline(now: now) }
        phase = .aggregating
        return [.aggregate(round: round, participants: participants)]
    }

    mutating func checkDeadline(now: Int64) -> [Action] {
        switch configuration.mode {
        case .synchronous:
            guard phase == .collecting, now >= deadline else { return [] }
            if accepted.count >= configuration.minParticipants && !accepted.isEmpty {
                phase = .aggregating
                return [.aggregate(round: round, participants: participants)]
            }
            let failed = participants
            phase = .waiting
            clearAccepted()
            return [.fail(round: round, accepted: failed)] + startRound(now: now)
        case .buffered:
            // A partly filled buffer is flushed after the round time if it holds enough updates.
            guard phase == .collecting, !accepted.isEmpty, now >= bufferStart + configuration.roundMilliseconds,
                accepted.count >= configuration.minParticipants
            else { return [] }
            phase = .aggregating
            return [.aggregate(round: round, participants: participants)]
        }
    }

    /// `count` of `candidates` drawn with a seeded Fisher–Yates shuffle (SplitMix64), sorted.
    static func draw(_ candidates: [String], count: Int, seed: UInt64) -> [String] {
        var pool = candidates
        var random = SplitMix64(seed: seed)
        for i in 0..<count {
            let j = i + Int(random.next() % UInt64(pool.count - i))
            pool.swapAt(i, j)
        }
        return Array(pool.prefix(count)).sorted()
    }
}
