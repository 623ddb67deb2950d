import Foundation

/// A machine's vibration (3 axes, in g): shaft harmonics at ~29.5 Hz, and from `faultOnset` seconds on a
/// growing outer-race bearing fault at 3.58× the shaft frequency (and its second harmonic), amplitude-modulated by
/// the shaft. Label: 0 healthy, 1 fault (once it is above the noise).
public struct VibrationModel: SensorModel {
    /// Channel names.
    public let channelNames = ["vib_x", "vib_y", "vib_z"]
    /// Units per channel.
    public let units = ["g", "g", "g"]
    /// Label names.
    public let labelNames = ["healthy", "bearing_fault"]

    /// Shaft rotation frequency (Hz).
    public var shaftFrequency = 29.5
    /// Seconds after which the fault starts growing.
    public var faultOnset: Double
    /// Seconds from onset to full fault amplitude.
    public var faultGrowth = 300.0

    /// A healthy machine whose bearing starts failing at `faultOnset`.
    public init(faultOnset: Double = 120) {
        self.faultOnset = faultOnset
    }

    /// One frame at time `t`; returns the label.
    public mutating func sample(at t: Double, into frame: UnsafeMutableBufferPointer<Float>, random: inout SimRandom)
        -> Int
    {
        let shaft = 2 * .pi * shaftFrequency * t
        let harmonics = 0.30 * sin(shaft) + 0.12 * sin(2 * shaft + 0.4) + 0.05 * sin(3 * shaft + 1.1)
        let severity = min(1, max(0, (t - faultOnset) / faultGrowth))
        let bpfo = 2 * .pi * 3.58 * shaftFrequency * t
        let fault = severity * 0.6 * (sin(bpfo) + 0.5 * sin(2 * bpfo)) * (1 + 0.5 * sin(shaft))
        frame[0] = Float(harmonics + fault + 0.02 * random.normal())
        frame[1] = Float(0.7 * harmonics + 0.5 * fault + 0.02 * random.normal())
        frame[2] = Float(0.2 * harmonics + 0.3 * fault + 0.02 * random.normal())
        return severity > 0.05 ? 1 : 0
    }
}
