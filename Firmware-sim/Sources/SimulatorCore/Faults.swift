/// Faults a simulated device suffers, each off (0) by default.
public struct FaultProfile: Sendable, Codable, Hashable {
    /// Chance per second that the device stops publishing (its radio drops) …
    public var dropoutPerSecond = 0.0
    /// … for this many seconds. Batches of that time are lost; sequence numbers keep counting (receivers see a gap).
    public var dropoutSeconds = 2.0
    /// Chance per second that one channel sticks at its current value …
    public var stuckPerSecond = 0.0
    /// … for this many seconds.
    public var stuckSeconds = 5.0
    /// Expected spikes (one sample of one channel jumps) per second …
    public var spikesPerSecond = 0.0
    /// … by this much (in the channel's unit, random sign).
    public var spikeMagnitude = 50.0
    /// Device clock error in parts per million: its time stamps run fast (positive) or slow.
    public var clockDriftPPM = 0.0
    /// Chance per hour that the device reboots: 2 s offline, then its sequence counter starts over at 0.
    public var rebootsPerHour = 0.0

    /// No faults.
    public init() {}

    enum CodingKeys: String, CodingKey {
        case dropoutPerSecond = "dropout_per_second"
        case dropoutSeconds = "dropout_seconds"
        case stuckPerSecond = "stuck_per_second"
        case stuckSeconds = "stuck_seconds"
        case spikesPerSecond = "spikes_per_second"
        case spikeMagnitude = "spike_magnitude"
        case clockDriftPPM = "clock_drift_ppm"
        case rebootsPerHour = "reboots_per_hour"
    }

    /// Decodes, keeping defaults for missing keys.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        dropoutPerSecond = try c.decodeIfPresent(Double.self, forKey: .dropoutPerSecond) ?? 0
        dropoutSeconds = try c.decodeIfPresent(Double.self, forKey: .dropoutSeconds) ?? 2
        stuckPerSecond = try c.decodeIfPresent(Double.self, forKey: .stuckPerSecond) ?? 0
        stuckSeconds = try c.decodeIfPresent(Double.self, forKey: .stuckSeconds) ?? 5
        spikesPerSecond = try c.decodeIfPresent(Double.self, forKey: .spikesPerSecond) ?? 0
        spikeMagnitude = try c.decodeIfPresent(Double.self, forKey: .spikeMagnitude) ?? 50
        clockDriftPPM = try c.decodeIfPresent(Double.self, forKey: .clockDriftPPM) ?? 0
        rebootsPerHour = try c.decodeIfPresent(Double.self, forKey: .rebootsPerHour) ?? 0
    }
}

/// Counts of faults that happened, for logs and tests.
public struct FaultCounters: Sendable, Hashable {
    /// Dropout episodes.
    public var dropouts = 0
    /// Batches not published because of dropouts or reboots.
    public var lostBatches = 0
    /// Stuck-at episodes.
    public var stuck = 0
    /// Spikes injected.
    public var spikes = 0
    /// Reboots.
    public var reboots = 0
}
