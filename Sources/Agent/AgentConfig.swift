public import BrokerConnection
public import Configuration
import SystemSupport

/// Everything `tributary-agent` is told (YAML, documented in `Configs/agent.yaml`; environment variables
/// `TRIBUTARY_AGENT_*`; flags). Windows, features, model and codec come from the task specification the
/// aggregator publishes.
public struct AgentConfig: Codable, Sendable, Hashable {
    /// Where frames come from.
    public struct Source: Codable, Sendable, Hashable {
        /// `mqtt` (the device's sensor topic), `udp`, `stdin` (sensor frame batches, each preceded by its length
        /// as a u32 little-endian), or `recording`.
        public var kind = "mqtt"
        /// Stream name (mqtt: `{p}/dev/{device}/sensor/{stream}`).
        public var stream = "imu"
        /// Channels per frame of the stream (label channel included).
        public var channels = 7
        /// udp: the port to listen on (127.0.0.1 unless `udp_host` says otherwise).
        public var udpPort = 9_700
        /// udp: the address to bind.
        public var udpHost = "127.0.0.1"
        /// recording: files played in order.
        public var recordings: [String] = []
        /// recording: playback speed (0: as fast as possible).
        public var speed: Double = 1
        /// recording: start over at the end.
        public var loop = false
    }

    /// Production mode's keys (docs/trust.md): what `tributary provision` writes for the device.
    public struct Trust: Codable, Sendable, Hashable {
        /// The device's Ed25519 signing key (PEM, mode 0600): its updates and statuses are signed with it.
        public var signingKey: String?
        /// The aggregator's Ed25519 public key: 64 hex digits, or a PEM file. Control messages that it did not
        /// sign are ignored.
        public var aggregatorKey: String?
    }

    /// Device id.
    public var deviceId = ""
    /// Development mode: a plain-TCP broker is allowed, nothing is signed and no signature is checked, and the
    /// agent says so at start. Production (false) is the default.
    public var insecure = false
    /// Keys (production mode).
    public var trust = Trust()
    /// The broker (client id `agent-{device}` and a persistent session unless set).
    public var broker = BrokerSettings()
    /// Topic prefix.
    public var prefix = "tributary/v1"
    /// Task to take part in (its specification comes from `{p}/fl/{task}/spec`).
    public var task = "har"
    /// State directory (model, residual, outbox).
    public var stateDir = "state/agent"
    /// The source.
    public var source = Source()
    /// Frames the ring holds.
    public var ringFrames = 8_192
    /// Every Nth window is held out for evaluation.
    public var holdoutEvery = 5
    /// Windows kept for round training.
    public var bufferWindows = 2_000
    /// Windows a device must hold before it contributes to a round.
    public var minWindows = 20
    /// Seconds between resends of an unacknowledged update.
    public var resendS: Double = 3
    /// Seconds between status (and summary) publications.
    public var statusIntervalS: Double = 10
    /// Largest sensor message accepted (bytes).
    public var maxSensorBytes = 1 << 20
    /// Largest control message (specification, round, model, acknowledgement) accepted (bytes): a model of the
    /// task must fit (8 MiB: a float32 model of two million parameters). With the sensor limit it makes the
    /// MQTT 5 maximum packet size the agent announces, so the broker never sends it anything larger.
    public var maxControlBytes = 8 << 20
    /// Milliseconds between passes of the agent's loop (control messages, windows, rounds, status).
    public var loopMs = 20
    /// Keep only the code pages in use resident (drops the kernel's fault-around pages once started).
    public var trimCodePages = true

    /// Defaults.
    public init() {}

    /// Checks every setting; the error names the key.
    public func validate() throws(ConfigError) {
        func check(_ condition: Bool, _ key: String, _ problem: String) throws(ConfigError) {
            if !condition { throw ConfigError(key: key, problem: problem) }
        }
        try check(Self.isValidID(deviceId), "device_id", "must be 1-64 letters, digits, - _ . (set it, or --device-id)")
        try broker.validate()
        if !insecure {
            if case .plaintext = broker.transport {
                throw ConfigError(
                    key: "broker.tls",
                    problem: "production mode needs a TLS broker (set broker.tls, or insecure: true for development)")
            }
            try check(
                trust.signingKey != nil, "trust.signing_key",
                "production mode needs the device's signing key (tributary provision writes it; or insecure: true)")
            try check(
                trust.aggregatorKey != nil, "trust.aggregator_key",
                "production mode needs the aggregator's public key (tributary provision writes it; or insecure: true)")
        }
        try check(Self.isValidID(task), "task", "must be a valid id")
        try check(
            ["mqtt", "udp", "stdin", "recording"].contains(source.kind), "source.kind",
            "must be mqtt, udp, stdin or recording")
        try check((1...1_024).contains(source.channels), "source.channels", "must be 1…1024")
        try check(source.kind != "recording" || !source.recordings.isEmpty, "source.recordings", "lists no files")
        try check(source.speed >= 0 && source.speed.isFinite, "source.speed", "must be ≥ 0 (0: as fast as possible)")
        try check((1...65_535).contains(source.udpPort), "source.udp_port", "must be 1…65535")
        try check(
            ringFrames >= 64 && ringFrames.nonzeroBitCount == 1, "ring_frames", "must be a power of two, at least 64")
        try check(holdoutEvery >= 0, "holdout_every", "must be ≥ 0 (0: no hold-out)")
        try check(bufferWindows >= 1, "buffer_windows", "must be at least 1")
        try check(minWindows >= 1 && minWindows <= bufferWindows, "min_windows", "must be 1…buffer_windows")
        try check(resendS > 0, "resend_s", "must be positive")
        try check(statusIntervalS > 0, "status_interval_s", "must be positive")
        try check((1...10_000).contains(loopMs), "loop_ms", "must be 1…10000")
        try check(maxSensorBytes >= 64, "max_sensor_bytes", "must be at least 64")
        try check(maxControlBytes >= 4_096, "max_control_bytes", "must be at least 4096")
    }

    static func isValidID(_ id: String) -> Bool {
        (1...64).contains(id.utf8.count)
            && id.utf8.allSatisfy { c in
                (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c == 45 || c == 95 || c == 46
            }
    }

    /// Loads a YAML file over the defaults, with `TRIBUTARY_AGENT_*` environment overrides.
    public static func load(path: String?) throws(ConfigError) -> AgentConfig {
        try load(path: path, environment: Environment.current)
    }

    /// Loads with the given environment.
    public static func load(path: String?, environment: [String: String]) throws(ConfigError) -> AgentConfig {
        let loader = YAMLConfiguration(environmentPrefix: "TRIBUTARY_AGENT_", rejectsUnknownKeys: true)
        let yaml = try path.map { (p: String) throws(ConfigError) -> String in try YAMLConfiguration.read(p) } ?? "{}"
        return try loader.decode(
            AgentConfig.self, yaml: yaml, defaults: YAMLConfiguration.tree(of: AgentConfig()), environment: environment,
            source: path ?? "defaults")
    }
}
