import Foundation

/// Three-phase motor current (A) at 50 Hz whose amplitude follows the load, which steps between four levels
/// every 5–20 s. Label: the load level (0 idle … 3 full).
public struct MotorCurrentModel: SensorModel {
    /// Channel names.
    public let channelNames = ["current_a", "current_b", "current_c"]
    /// Units per channel.
    public let units = ["A", "A", "A"]
    /// Label names.
    public let labelNames = ["idle", "light", "medium", "full"]

    var level = 0
    var levelEnds = 0.0

    /// An idle motor.
    public init() {}

    /// One frame at time `t`; returns the label.
    public mutating func sample(at t: Double, into frame: UnsafeMutableBufferPointer<Float>, random: inout SimRandom)
        -> Int
    {
        if t >= levelEnds {
            level = Int(random.next() % 4)
            levelEnds = t + random.uniform(5...20)
        }
        let loads = [0.2, 0.5, 0.8, 1.0]
        let amplitude = 2 + 8 * loads[level]
        let omega = 2 * .pi * 50 * t
        for phase in 0..<3 {
            frame[phase] = Float(amplitude * sin(omega - Double(phase) * 2 * .pi / 3) + 0.05 * random.normal())
        }
        return level
    }
}
