/// A simulated sensor: channel names and units, and a value for every channel at a time, plus the label of the
/// state it is in (activity, fault, load level), for supervised tasks.
public protocol SensorModel: Sendable {
    /// Channel names, such as `acc_x`.
    var channelNames: [String] { get }
    /// Units per channel, such as `m/s2`.
    var units: [String] { get }
    /// Names of the label values (index = label).
    var labelNames: [String] { get }
    /// Writes one frame of values for time `t` (seconds since the device started) into `frame`; returns the label.
    mutating func sample(at t: Double, into frame: UnsafeMutableBufferPointer<Float>, random: inout SimRandom) -> Int
}

extension SensorModel {
    /// Number of channels.
    public var channels: Int { channelNames.count }
}

/// The sensors the simulator knows.
public enum SensorKind: String, Sendable, Codable, CaseIterable {
    /// 3-axis accelerometer and gyroscope on a wrist, with activities.
    case imu
    /// Machine vibration with bearing-fault harmonics that appear over time.
    case vibration
    /// Temperature with slow drift and a daily cycle.
    case temperature
    /// Three-phase motor current with load steps.
    case motor

    /// A fresh model of this kind.
    public func makeModel(faultOnsetSeconds: Double = 120) -> any SensorModel {
        switch self {
        case .imu: IMUModel()
        case .vibration: VibrationModel(faultOnset: faultOnsetSeconds)
        case .temperature: TemperatureModel()
        case .motor: MotorCurrentModel()
        }
    }
}
