import Foundation

/// A wrist IMU: accelerometer (m/s², gravity included) and gyroscope (rad/s) on 3 axes, moving through
/// activities that switch every 5–15 s: rest, walking, running, and a slow arm raise (an exercise).
public struct IMUModel: SensorModel {
    /// Channel names.
    public let channelNames = ["acc_x", "acc_y", "acc_z", "gyro_x", "gyro_y", "gyro_z"]
    /// Units per channel.
    public let units = ["m/s2", "m/s2", "m/s2", "rad/s", "rad/s", "rad/s"]
    /// Label names.
    public let labelNames = ["rest", "walk", "run", "arm_raise"]

    var activity = 0
    var activityEnds = 0.0
    var phase = 0.0
    var lastT = 0.0
    var roll = 0.0
    var pitch = 0.0

    /// A wrist at rest.
    public init() {}

    /// One frame at time `t`; returns the label.
    public mutating func sample(at t: Double, into frame: UnsafeMutableBufferPointer<Float>, random: inout SimRandom)
        -> Int
    {
        if t >= activityEnds {
            activity = Int(random.next() % 4)
            activityEnds = t + random.uniform(5...15)
        }
        let dt = max(0, t - lastT)
        lastT = t
        let (frequency, amplitude): (Double, Double) =
            switch activity {
            case 1: (1.9, 2.0)
            case 2: (2.8, 6.0)
            case 3: (0.25, 0)
            default: (0, 0)
            }
        phase += 2 * .pi * frequency * dt
        // Orientation: a slow sway at rest and while moving; a large pitch swing for the arm raise.
        let previousRoll = roll
        let previousPitch = pitch
        roll = 0.15 * sin(0.3 * t) + (activity == 0 ? 0 : 0.1 * sin(phase))
        pitch = activity == 3 ? 1.2 * sin(2 * .pi * 0.25 * t) : 0.1 * sin(0.2 * t + 1)
        let g = 9.81
        let gravity = (g * sin(pitch), -g * sin(roll) * cos(pitch), g * cos(roll) * cos(pitch))
        let bounce = amplitude * sin(phase)
        let sway = 0.4 * amplitude * sin(phase / 2)
        frame[0] = Float(gravity.0 + sway + 0.05 * random.normal())
        frame[1] = Float(gravity.1 + 0.2 * sway + 0.05 * random.normal())
        frame[2] = Float(gravity.2 + bounce + 0.05 * random.normal())
        let rate = dt > 0 ? 1 / dt : 0
        frame[3] = Float((roll - previousRoll) * rate + 0.01 * random.normal())
        frame[4] = Float((pitch - previousPitch) * rate + 0.01 * random.normal())
        frame[5] = Float(0.3 * amplitude / 6 * cos(phase) + 0.01 * random.normal())
        return activity
    }
}
