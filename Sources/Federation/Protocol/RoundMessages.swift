import TributaryWire

/// Which devices a round asks for.
public struct Selection: Codable, Sendable, Hashable {
    /// `all` (every device may take part), `fraction` of the online devices, or a `count` of them.
    public enum Mode: String, Codable, Sendable, Hashable {
        /// Open to every device.
        case all
        /// A fraction of the devices online when the round starts.
        case fraction
        /// A number of the devices online when the round starts.
        case count
    }

    /// The mode.
    public var mode: Mode
    /// The fraction (0…1] or the count.
    public var value: Double
    /// Seed of the draw (with the round id), so a selection can be reproduced.
    public var seed: UInt64

    /// Creates a selection.
    public init(mode: Mode = .all, value: Double = 1, seed: UInt64 = 1) {
        self.mode = mode
        self.value = value
        self.seed = seed
    }

    /// Checks the value against the mode.
    public func validate() throws(ProtocolError) {
        switch mode {
        case .all: break
        case .fraction:
            guard value > 0, value <= 1 else { throw ProtocolError(.invalidField, "selection fraction \(value)") }
        case .count:
            guard value >= 1, value == value.rounded(), value <= 1_000_000 else {
                throw ProtocolError(.invalidField, "selection count \(value)")
            }
        }
    }
}

/// Training settings for one round, sent with its announcement.
public struct LocalTraining: Codable, Sendable, Hashable {
    /// Windows each device trains on before sending its update.
    public var samples: Int
    /// FedProx μ: the proximal term pulling local models towards the round's global model (0: plain FedAvg).
    public var proxMu: Double
    /// Share of the parameters each update carries this round; nil: the task's `codec.k_fraction`.
    public var kFraction: Double?

    /// Creates settings.
    public init(samples: Int = 100, proxMu: Double = 0, kFraction: Double? = nil) {
        self.samples = samples
        self.proxMu = proxMu
        self.kFraction = kFraction
    }

    enum CodingKeys: String, CodingKey { case samples, proxMu, kFraction }

    /// Reads the settings; `prox_mu` (default 0) and `k_fraction` may be absent.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        samples = try c.decode(Int.self, forKey: .samples)
        proxMu = try c.decodeIfPresent(Double.self, forKey: .proxMu) ?? 0
        kFraction = try c.decodeIfPresent(Double.self, forKey: .kFraction)
    }

    /// Writes the settings, leaving out what has its default.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(samples, forKey: .samples)
        if proxMu != 0 { try c.encode(proxMu, forKey: .proxMu) }
        try c.encodeIfPresent(kFraction, forKey: .kFraction)
    }
}

/// The retained `{p}/fl/{task}/round` message: what devices train for now.
public struct RoundAnnouncement: Codable, Sendable, Hashable {
    /// Synchronous rounds, or asynchronous buffered aggregation (FedBuff).
    public enum Mode: String, Codable, Sendable, Hashable {
        /// Rounds with a deadline: updates count for the round they were trained in.
        case sync
        /// Devices train whenever they can; updates on recent models are accepted, weighted by staleness.
        case async
    }

    /// Format version.
    public var v: Int = 1
    /// Task id.
    public var task: String
    /// Round id (in async mode, the model version).
    public var round: UInt32
    /// Hash of the task specification in force.
    public var specHash: HexHash
    /// Hash of the global model devices must train from (the retained model's).
    public var modelHash: HexHash
    /// The mode.
    public var mode: Mode
    /// When the aggregator stops accepting updates for this round (Unix ms; 0 in async mode).
    public var deadlineMs: Int64
    /// The selection rule.
    public var selection: Selection
    /// The devices selected (empty when the round is open to all).
    public var devices: [String]
    /// Local training settings.
    public var training: LocalTraining
    /// The federation epoch: which aggregator state numbers these rounds (a new state starts a new epoch and
    /// its rounds at 1 again). 0: not given (an aggregator from before epochs).
    public var epoch: UInt64

    /// Creates an announcement.
    public init(
        task: String, round: UInt32, specHash: UInt64, modelHash: UInt64, mode: Mode, deadlineMs: Int64,
        selection: Selection, devices: [String], training: LocalTraining, epoch: UInt64 = 0
    ) {
        self.task = task
        self.round = round
        self.specHash = HexHash(specHash)
        self.modelHash = HexHash(modelHash)
        self.mode = mode
        self.deadlineMs = deadlineMs
        self.selection = selection
        self.devices = devices
        self.training = training
        self.epoch = epoch
    }

    /// Whether `device` is asked to take part.
    public func includes(_ device: String) -> Bool { devices.isEmpty || devices.contains(device) }

    enum CodingKeys: String, CodingKey {
        case v, task, round, specHash, modelHash, mode, deadlineMs, selection, devices, training, epoch
    }

    /// Reads a message; `selection` (default: all), `devices` (default: none, open to all) and `epoch`
    /// (default 0) may be absent.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        v = try c.decode(Int.self, forKey: .v)
        task = try c.decode(String.self, forKey: .task)
        round = try c.decode(UInt32.self, forKey: .round)
        specHash = try c.decode(HexHash.self, forKey: .specHash)
        modelHash = try c.decode(HexHash.self, forKey: .modelHash)
        mode = try c.decode(Mode.self, forKey: .mode)
        deadlineMs = try c.decode(Int64.self, forKey: .deadlineMs)
        selection = try c.decodeIfPresent(Selection.self, forKey: .selection) ?? Selection()
        devices = try c.decodeIfPresent([String].self, forKey: .devices) ?? []
        training = try c.decode(LocalTraining.self, forKey: .training)
        epoch = try c.decodeIfPresent(HexHash.self, forKey: .epoch)?.value ?? 0
    }

    /// Writes a message, leaving out what has its default (it goes to every device every round).
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(v, forKey: .v)
        try c.encode(task, forKey: .task)
        try c.encode(round, forKey: .round)
        try c.encode(specHash, forKey: .specHash)
        try c.encode(modelHash, forKey: .modelHash)
        try c.encode(mode, forKey: .mode)
        try c.encode(deadlineMs, forKey: .deadlineMs)
        if selection != Selection() { try c.encode(selection, forKey: .selection) }
        if !devices.isEmpty { try c.encode(devices, forKey: .devices) }
        try c.encode(training, forKey: .training)
        if epoch != 0 { try c.encode(HexHash(epoch), forKey: .epoch) }
    }

    /// The JSON message.
    public var json: [UInt8] { ControlJSON.encode(self) }

    /// Parses and checks a message.
    public static func decode(_ bytes: some Collection<UInt8>) throws(ProtocolError) -> RoundAnnouncement {
        let message = try ControlJSON.decode(RoundAnnouncement.self, from: bytes, what: "round announcement")
        guard message.v == 1 else {
            throw ProtocolError(.unsupportedVersion, "round announcement version \(message.v)")
        }
        guard Topics.isValidID(message.task), message.deadlineMs >= 0, message.training.samples >= 1,
            message.training.proxMu >= 0, message.training.proxMu.isFinite, message.devices.allSatisfy(Topics.isValidID)
        else { throw ProtocolError(.invalidField, "round announcement fields") }
        try message.selection.validate()
        return message
    }
}

/// The aggregator's answer to one update, on `{p}/fl/{task}/ack/{device}`: agents resend an update until they
/// get one, so nothing the broker drops is lost.
public struct UpdateAck: Codable, Sendable, Hashable {
    /// What happened to the update.
    public enum Status: String, Codable, Sendable, Hashable {
        /// Durable and counted.
        case accepted
        /// Already counted (a resend): stop resending.
        case duplicate
        /// Refused; `reason` says why. Resending will not help.
        case rejected
    }

    /// Format version.
    public var v: Int = 1
    /// Task id.
    public var task: String
    /// The round the update was for.
    public var round: UInt32
    /// The device.
    public var device: String
    /// The outcome.
    public var status: Status
    /// For rejections: the reason code (`late_round`, `stale_model`, `bad_checksum`, …).
    public var reason: String?
    /// The federation epoch of the answering aggregator (nil: not given).
    public var epoch: HexHash?

    /// Creates an acknowledgement.
    public init(
        task: String, round: UInt32, device: String, status: Status, reason: String? = nil, epoch: UInt64? = nil
    ) {
        self.task = task
        self.round = round
        self.device = device
        self.status = status
        self.reason = reason
        self.epoch = epoch.map(HexHash.init)
    }

    /// The JSON message (written directly: the aggregator sends one per update).
    public var json: [UInt8] {
        var text = "{\"device\":" + JSONString.quoted(device)
        if let epoch { text += ",\"epoch\":\"\(epoch)\"" }
        if let reason { text += ",\"reason\":" + JSONString.quoted(reason) }
        text +=
            ",\"round\":\(round),\"status\":\"\(status.rawValue)\",\"task\":" + JSONString.quoted(task) + ",\"v\":\(v)}"
        return Array(text.utf8)
    }

    /// Parses a message.
    public static func decode(_ bytes: some Collection<UInt8>) throws(ProtocolError) -> UpdateAck {
        let message = try ControlJSON.decode(UpdateAck.self, from: bytes, what: "acknowledgement")
        guard message.v == 1 else { throw ProtocolError(.unsupportedVersion, "acknowledgement version \(message.v)") }
        return message
    }
}

/// The retained `{p}/fl/{task}/metrics` message: the last round's results.
public struct RoundMetrics: Codable, Sendable, Hashable {
    /// How the round ended.
    public enum Status: String, Codable, Sendable, Hashable {
        /// A new global model was published.
        case aggregated
        /// Too few updates by the deadline; the model is unchanged.
        case failed
    }

    /// Central evaluation on a recording.
    public struct Evaluation: Codable, Sendable, Hashable {
        /// Windows evaluated.
        public var samples: Int
        /// Accuracy (classification) or nil.
        public var accuracy: Double?
        /// Mean loss.
        public var loss: Double

        /// Creates results.
        public init(samples: Int, accuracy: Double?, loss: Double) {
            self.samples = samples
            self.accuracy = accuracy
            self.loss = loss
        }
    }

    /// Format version.
    public var v: Int = 1
    /// Task id.
    public var task: String
    /// The round.
    public var round: UInt32
    /// The outcome.
    public var status: Status
    /// Why it failed.
    public var reason: String?
    /// Devices whose updates were aggregated, sorted.
    public var accepted: [String]
    /// Rejected updates by reason.
    public var rejected: [String: Int]
    /// Σ sample weights of the accepted updates.
    public var totalWeight: Double
    /// Hash of the new global model.
    public var modelHash: HexHash
    /// ‖Δ‖ of the aggregated update and ‖x‖ of the new model.
    public var updateNorm: Double
    /// ‖x‖ of the new model.
    public var modelNorm: Double
    /// How many accepted updates clipping scaled down (absent when none).
    public var clipped: Int?
    /// From announcement to publication.
    public var durationMs: Int64
    /// Update bytes received in the round.
    public var bytesIn: Int
    /// Central evaluation, when configured.
    public var evaluation: Evaluation?
    /// The mean hold-out accuracy the round's participants measured, on their own held-out windows, for the
    /// global model they trained from (from their updates' metrics); absent when none reported one.
    public var holdoutAccuracy: Double?
    /// How many participants reported it.
    public var holdoutDevices: Int?

    /// Creates metrics.
    public init(
        task: String, round: UInt32, status: Status, reason: String? = nil, accepted: [String],
        rejected: [String: Int], totalWeight: Double, modelHash: UInt64, updateNorm: Double, modelNorm: Double,
        durationMs: Int64, bytesIn: Int, evaluation: Evaluation? = nil
    ) {
        self.task = task
        self.round = round
        self.status = status
        self.reason = reason
        self.accepted = accepted
        self.rejected = rejected
        self.totalWeight = totalWeight
        self.modelHash = HexHash(modelHash)
        self.updateNorm = updateNorm
        self.modelNorm = modelNorm
        self.durationMs = durationMs
        self.bytesIn = bytesIn
        self.evaluation = evaluation
    }

    /// The JSON message.
    public var json: [UInt8] { ControlJSON.encode(self) }

    /// Parses a message.
    public static func decode(_ bytes: some Collection<UInt8>) throws(ProtocolError) -> RoundMetrics {
        let message = try ControlJSON.decode(RoundMetrics.self, from: bytes, what: "round metrics")
        guard message.v == 1 else { throw ProtocolError(.unsupportedVersion, "round metrics version \(message.v)") }
        return message
    }
}

/// A device's retained status on `{p}/dev/{device}/status` (its will sets `offline`).
public struct DeviceStatus: Codable, Sendable, Hashable {
    /// Format version.
    public var v: Int = 1
    /// The device.
    public var device: String
    /// `online` or `offline`.
    public var state: String
    /// Agent version, when known.
    public var version: String?
    /// The round of the global model the device holds.
    public var round: UInt32?
    /// The hash of the global model the device holds.
    public var modelHash: HexHash?
    /// Counters and accuracies the agent reports (windows, updates_sent, holdout_accuracy, …).
    public var metrics: [String: Double]?

    /// Creates a status.
    public init(
        device: String, state: String, version: String? = nil, round: UInt32? = nil, metrics: [String: Double]? = nil
    ) {
        self.device = device
        self.state = state
        self.version = version
        self.round = round
        self.metrics = metrics
    }

    /// Whether the device says it is online.
    public var isOnline: Bool { state == "online" }

    /// The JSON message.
    public var json: [UInt8] { ControlJSON.encode(self) }

    /// Parses a message.
    public static func decode(_ bytes: some Collection<UInt8>) throws(ProtocolError) -> DeviceStatus {
        let message = try ControlJSON.decode(DeviceStatus.self, from: bytes, what: "device status")
        guard message.v == 1 else { throw ProtocolError(.unsupportedVersion, "device status version \(message.v)") }
        guard Topics.isValidID(message.device), ["online", "offline"].contains(message.state) else {
            throw ProtocolError(.invalidField, "device status fields")
        }
        return message
    }
}
