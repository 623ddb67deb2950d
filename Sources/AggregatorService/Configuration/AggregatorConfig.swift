public import BrokerConnection
public import Configuration
public import Federation

/// Everything `tributary-aggregator` is told, from `--config FILE` (YAML, documented in
/// `Configs/aggregator.yaml`), environment variables, and flags, in that order of increasing priority.
public struct AggregatorConfig: Codable, Sendable, Hashable {
    /// The status and metrics endpoint.
    public struct HTTP: Codable, Sendable, Hashable {
        /// Listen address (loopback by default).
        public var host = "127.0.0.1"
        /// Port; 0 turns the endpoint off.
        public var port = 9464
        /// A file whose first line is the bearer token `/status` and `/metrics` require (`Authorization: Bearer
        /// …`); required when `host` is not a loopback address.
        public var tokenFile: String?
    }

    /// Production mode's keys (docs/trust.md): what `tributary provision` writes.
    public struct Trust: Codable, Sendable, Hashable {
        /// The aggregator's Ed25519 signing key (PEM, mode 0600): every publication is signed with it.
        public var signingKey: String?
        /// The fleet's registry file (`registry.json`): enrolled devices, their public keys and status.
        public var registry: String?

        /// Keys at these paths (none by default).
        public init(signingKey: String? = nil, registry: String? = nil) {
            self.signingKey = signingKey
            self.registry = registry
        }
    }

    /// How rounds run.
    public struct Rounds: Codable, Sendable, Hashable {
        /// `sync` (rounds with deadlines) or `async` (FedBuff buffered aggregation).
        public var mode = "sync"
        /// Seconds a round collects updates (async: how long a partly filled buffer waits).
        public var durationS: Double = 30
        /// Fewest updates that make a round.
        public var minParticipants = 1
        /// Stop after this many rounds (null: run until stopped).
        public var maxRounds: Int?
        /// Which devices each round asks for.
        public var selection = Selection()
        /// Local training settings sent with each round.
        public var local = LocalTraining()
        /// Async: aggregate every this many accepted updates.
        public var bufferSize = 10
        /// Async: accept updates trained on models at most this many versions old.
        public var maxStaleness = 4
    }

    /// Size limits on what devices send.
    public struct Limits: Codable, Sendable, Hashable {
        /// Largest update message accepted (bytes).
        public var maxUpdateBytes = 4 << 20
        /// Most devices in the device table (development mode: a device takes a place with its first valid
        /// status or update; past the limit new ids are refused as `fleet_full`). Production knows only the
        /// registry's devices.
        public var maxDevices = 100_000
        /// Rounds of history kept in the state (round rows, metrics, update records); older ones are deleted,
        /// so the database stays bounded however long the task runs.
        public var keepRounds = 10_000
        /// Most messages waiting to be handled (the network thread then waits briefly, then sheds).
        public var inboxMessages = 16_384
        /// Most bytes of messages waiting to be handled.
        public var inboxBytes = 256 << 20
        /// Updates one device may send at once, and per second after them (`updates_per_device_s`); more are
        /// dropped before the inbox and counted (`rate_limited`). An agent sends one per round, and resends.
        public var updateBurst = 64
        /// See ``updateBurst``.
        public var updatesPerDeviceS: Double = 32
        /// Statuses one device may send at once, and per second after them; an agent sends one every
        /// `status_interval_s` (10 s) and when it reconnects.
        public var statusBurst = 8
        /// See ``statusBurst``.
        public var statusesPerDeviceS: Double = 2
    }

    /// Several aggregators: shards split the updates through a shared subscription, a root merges their partials.
    public struct Hierarchy: Codable, Sendable, Hashable {
        /// `single`, `shard` or `root`.
        public var role = "single"
        /// This shard's id (role shard).
        public var shardId: String?
        /// The shards the root waits for (role root).
        public var shards: [String] = []
        /// Shared-subscription group of the shards.
        public var group = "tributary-aggregators"
        /// Seconds after a round's deadline the root waits for late partials.
        public var graceS: Double = 5
    }

    /// Central evaluation of each new model on a recording (like Flower's server-side evaluate).
    public struct Evaluation: Codable, Sendable, Hashable {
        /// A recording with the task's stream and label channel (null: no evaluation).
        public var recording: String?
    }

    /// Development mode: a plain-TCP broker is allowed, nothing is signed and no signature is checked, and the
    /// aggregator says so at start. Production (false) is the default.
    public var insecure = false
    /// Keys and registry (production mode).
    public var trust = Trust()
    /// The broker (client id `tributary-aggregator` and a persistent session unless set; shards need a client
    /// id each).
    public var broker = BrokerSettings()
    /// Topic prefix.
    public var prefix = "tributary/v1"
    /// Directory of the SQLite database and model checkpoints.
    public var stateDir = "state/aggregator"
    /// Hot standby: when another aggregator holds `state_dir`'s lock, wait for it (trying every quarter second)
    /// instead of exiting; the standby takes over the state, and the rounds, when the holder stops or dies.
    public var standby = false
    /// Seconds to keep trying the broker at start-up before giving up (0: keep trying until stopped). Once
    /// connected, the aggregator reconnects on its own for as long as it runs.
    public var connectTimeoutS: Double = 0
    /// The status endpoint.
    public var http = HTTP()
    /// The task served.
    public var task: TaskSpec
    /// Rounds.
    public var rounds = Rounds()
    /// The aggregation strategy.
    public var strategy = StrategyConfig()
    /// Limits.
    public var limits = Limits()
    /// Hierarchical mode.
    public var hierarchy = Hierarchy()
    /// Central evaluation.
    public var evaluation = Evaluation()

    /// A configuration for `task` with every other setting at its default.
    public init(task: TaskSpec) { self.task = task }

    /// The role the `hierarchy` section describes (valid once ``validate()`` passed).
    public var role: AggregatorRole { AggregatorRole(hierarchy) }

    /// The round machine's configuration.
    public var machineConfiguration: RoundMachine.Configuration {
        RoundMachine.Configuration(
            mode: rounds.mode == "async"
                ? .buffered(bufferSize: rounds.bufferSize, maxStaleness: rounds.maxStaleness) : .synchronous,
            selection: rounds.selection, minParticipants: rounds.minParticipants,
            roundMilliseconds: Int64(
                ((rounds.durationS + (hierarchy.role == "root" ? hierarchy.graceS : 0)) * 1_000).rounded()),
            maxRounds: rounds.maxRounds,
            training: rounds.local)
    }

    /// Checks every setting; the error names the key.
    public func validate() throws(ConfigError) {
        func check(_ condition: Bool, _ key: String, _ problem: String) throws(ConfigError) {
            if !condition { throw ConfigError(key: key, problem: problem) }
        }
        try broker.validate()
        if !insecure {
            if case .plaintext = broker.transport {
                throw ConfigError(
                    key: "broker.tls",
                    problem: "production mode needs a TLS broker (set broker.tls, or insecure: true for development)")
            }
            try check(
                trust.signingKey != nil, "trust.signing_key",
                "production mode needs the aggregator's signing key (tributary provision writes it; or insecure: true)")
            try check(
                trust.registry != nil, "trust.registry",
                "production mode needs the fleet's registry.json (tributary provision writes it; or insecure: true)")
        }
        if http.port != 0 && !Self.isLoopback(http.host) {
            try check(
                http.tokenFile != nil, "http.token_file",
                "the status endpoint listens on \(http.host), beyond loopback: it needs a bearer token file")
        }
        try check(!prefix.isEmpty && !prefix.contains("+") && !prefix.contains("#"), "prefix", "must be a plain topic")
        try check(!stateDir.isEmpty, "state_dir", "is empty")
        try check(
            connectTimeoutS >= 0 && connectTimeoutS.isFinite, "connect_timeout_s", "must be ≥ 0 (0: keep trying)")
        try check((0...65_535).contains(http.port), "http.port", "must be 0…65535 (0: off)")
        do { try task.validate() } catch { throw ConfigError(key: "task", problem: error.description) }
        try check(["sync", "async"].contains(rounds.mode), "rounds.mode", "must be sync or async")
        try check(rounds.durationS > 0 && rounds.durationS.isFinite, "rounds.duration_s", "must be positive")
        try check(rounds.minParticipants >= 1, "rounds.min_participants", "must be at least 1")
        try check(rounds.maxRounds.map { $0 >= 1 } ?? true, "rounds.max_rounds", "must be at least 1")
        do { try rounds.selection.validate() } catch {
            throw ConfigError(key: "rounds.selection", problem: error.message)
        }
        try check(rounds.local.samples >= 1, "rounds.local.samples", "must be at least 1")
        try check(rounds.local.proxMu >= 0 && rounds.local.proxMu.isFinite, "rounds.local.prox_mu", "must be ≥ 0")
        try check(
            rounds.local.kFraction.map { $0 > 0 && $0 <= 1 } ?? true, "rounds.local.k_fraction", "must be in (0, 1]")
        try check(rounds.bufferSize >= 1, "rounds.buffer_size", "must be at least 1")
        try check(rounds.maxStaleness >= 0, "rounds.max_staleness", "must be ≥ 0")
        do { try strategy.validate() } catch { throw ConfigError(key: "strategy", problem: "\(error)") }
        try check(limits.maxUpdateBytes >= 1_024, "limits.max_update_bytes", "must be at least 1024")
        try check(limits.maxDevices >= 1, "limits.max_devices", "must be at least 1")
        try check(limits.keepRounds >= 10, "limits.keep_rounds", "must be at least 10")
        // Older rounds' records are what tells a resent update from a new one: keep every round an update may
        // still arrive for.
        try check(
            limits.keepRounds > rounds.maxStaleness + 1, "limits.keep_rounds",
            "must be above rounds.max_staleness + 1 (\(rounds.maxStaleness + 1)): resends of older rounds must still be recognised"
        )
        try check(limits.inboxMessages >= 16, "limits.inbox_messages", "must be at least 16")
        try check(limits.inboxBytes >= limits.maxUpdateBytes, "limits.inbox_bytes", "must hold at least one update")
        try check(limits.updateBurst >= 1, "limits.update_burst", "must be at least 1")
        try check(limits.statusBurst >= 1, "limits.status_burst", "must be at least 1")
        for (rate, key) in [
            (limits.updatesPerDeviceS, "updates_per_device_s"), (limits.statusesPerDeviceS, "statuses_per_device_s"),
        ] {
            try check(rate > 0 && rate.isFinite, "limits." + key, "must be positive")
        }
        try check(
            ["single", "shard", "root"].contains(hierarchy.role), "hierarchy.role", "must be single, shard or root")
        if hierarchy.role == "shard" {
            try check(hierarchy.shardId.map(Topics.isValidID) ?? false, "hierarchy.shard_id", "must be a valid id")
        }
        if hierarchy.role == "root" {
            try check(
                !hierarchy.shards.isEmpty && hierarchy.shards.allSatisfy(Topics.isValidID), "hierarchy.shards",
                "must list the shard ids")
            try check(
                StrategyKind.mergeable.contains(strategy.kind), "strategy.kind",
                "median and trimmed mean cannot be split across shards")
        }
        try check(hierarchy.graceS >= 0, "hierarchy.grace_s", "must be ≥ 0")
    }
}

extension AggregatorConfig {
    /// Whether `host` is a loopback address (127.0.0.0/8, ::1, localhost).
    static func isLoopback(_ host: String) -> Bool {
        host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }
}

extension StrategyKind {
    /// Strategies whose partial aggregates merge exactly (the mean family).
    public static let mergeable: Set<StrategyKind> = [.fedAvg, .fedAvgM, .fedAdam, .fedYogi, .fedAdagrad]
}
