import Foundation

/// A temperature sensor (°C): ambient around 25 °C, a slow upward drift, a daily cycle and noise; now and then a
/// heating episode of a few minutes. Label: 0 normal, 1 overheating (above 40 °C).
public struct TemperatureModel: SensorModel {
    /// Channel names.
    public let channelNames = ["temperature"]
    /// Units per channel.
    public let units = ["degC"]
    /// Label names.
    public let labelNames = ["normal", "overheat"]

    /// Drift in °C per hour.
    public var driftPerHour = 0.5
    var episodeStart = -1.0
    var episodeEnd = -1.0
    var nextCheck = 0.0

    /// An ambient sensor.
    public init() {}

    /// One frame at time `t`; returns the label.
    public mutating func sample(at t: Double, into frame: UnsafeMutableBufferPointer<Float>, random: inout SimRandom)
        -> Int
    {
        if t >= nextCheck {
            nextCheck = t + 60
            if t > episodeEnd && random.chance(0.05) {
                episodeStart = t
                episodeEnd = t + random.uniform(120...600)
            }
        }
        var value = 25 + driftPerHour * t / 3600 + 2 * sin(2 * .pi * t / 86_400) + 0.05 * random.normal()
        if t >= episodeStart && t < episodeEnd {
            let ramp = min(1, (t - episodeStart) / 60, (episodeEnd - t) / 60)
            value += 20 * ramp
        }
        frame[0] = Float(value)
        return value > 40 ? 1 : 0
    }
}
