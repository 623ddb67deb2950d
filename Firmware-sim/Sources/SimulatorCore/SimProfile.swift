import SensorFrames

/// A simulator profile: what each device senses, how fast, and what goes wrong. Read from YAML
/// (`Configs/sim/*.yaml`); every key has a default.
public struct SimProfile: Sendable, Codable, Hashable {
    /// Topic prefix.
    public var prefix = "tributary/v1"
    /// Number of devices.
    public var devices = 10
    /// Device ids are `{idPrefix}{index}` (index from 1, zero-padded to 4 digits).
    public var idPrefix = "sim-"
    /// Index of the first device (0-based): several simulator processes share out a larger fleet.
    public var firstDevice = 0
    /// Sensor kind.
    public var sensor = SensorKind.imu
    /// Stream name in the topic.
    public var stream = "imu"
    /// Samples per second per device.
    public var rateHz = 50.0
    /// Frames per published batch.
    public var batchFrames = 25
    /// `float32`, or `int16` (with the scales below).
    public var format = "float32"
    /// Per-channel scales for `int16` (one value for all channels, or one per channel).
    public var int16Scales: [Float] = [0.001]
    /// Append a label channel (the sensor's state) to every frame.
    public var labels = false
    /// Random seed: the same seed gives the same samples and faults.
    public var seed: UInt64 = 1
    /// MQTT QoS for sensor batches (0 is usual for high-rate data).
    public var qos = 0
    /// Seconds after start when simulated bearings begin to fail (vibration only).
    public var faultOnsetSeconds = 120.0
    /// Faults to inject.
    public var faults = FaultProfile()

    /// A profile with every default.
    public init() {}

    enum CodingKeys: String, CodingKey {
        case prefix, devices, sensor, stream, format, labels, seed, qos, faults
        case idPrefix = "id_prefix"
        case rateHz = "rate_hz"
        case batchFrames = "batch_frames"
        case int16Scales = "int16_scales"
        case faultOnsetSeconds = "fault_onset_seconds"
    }

    /// Decodes, keeping defaults for missing keys.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = SimProfile()
        prefix = try c.decodeIfPresent(String.self, forKey: .prefix) ?? d.prefix
        devices = try c.decodeIfPresent(Int.self, forKey: .devices) ?? d.devices
        idPrefix = try c.decodeIfPresent(String.self, forKey: .idPrefix) ?? d.idPrefix
        sensor = try c.decodeIfPresent(SensorKind.self, forKey: .sensor) ?? d.sensor
        stream = try c.decodeIfPresent(String.self, forKey: .stream) ?? sensor.rawValue
        rateHz = try c.decodeIfPresent(Double.self, forKey: .rateHz) ?? d.rateHz
        batchFrames = try c.decodeIfPresent(Int.self, forKey: .batchFrames) ?? d.batchFrames
        format = try c.decodeIfPresent(String.self, forKey: .format) ?? d.format
        int16Scales = try c.decodeIfPresent([Float].self, forKey: .int16Scales) ?? d.int16Scales
        labels = try c.decodeIfPresent(Bool.self, forKey: .labels) ?? d.labels
        seed = try c.decodeIfPresent(UInt64.self, forKey: .seed) ?? d.seed
        qos = try c.decodeIfPresent(Int.self, forKey: .qos) ?? d.qos
        faultOnsetSeconds = try c.decodeIfPresent(Double.self, forKey: .faultOnsetSeconds) ?? d.faultOnsetSeconds
        faults = try c.decodeIfPresent(FaultProfile.self, forKey: .faults) ?? d.faults
    }

    /// Why a profile cannot run.
    public struct Invalid: Error, CustomStringConvertible, Sendable {
        /// What is wrong and how to fix it.
        public var description: String
    }

    /// Checks ranges and consistency.
    public func validate() throws(Invalid) {
        guard (1...100_000).contains(devices) else { throw Invalid(description: "devices must be within 1...100000") }
        guard rateHz > 0 && rateHz <= 100_000 else { throw Invalid(description: "rate_hz must be within (0, 100000]") }
        guard (1...65_535).contains(batchFrames) else {
            throw Invalid(description: "batch_frames must be within 1...65535")
        }
        guard ["float32", "int16"].contains(format) else {
            throw Invalid(description: "format must be float32 or int16, not \(format)")
        }
        guard (0...2).contains(qos) else { throw Invalid(description: "qos must be 0, 1 or 2") }
        guard !stream.isEmpty, !stream.contains("/"), !stream.contains("+"), !stream.contains("#") else {
            throw Invalid(description: "stream must be a single topic level without wildcards")
        }
        if format == "int16" {
            guard !int16Scales.isEmpty, int16Scales.allSatisfy({ $0.isFinite && $0 != 0 }) else {
                throw Invalid(description: "int16_scales must be finite and non-zero")
            }
        }
    }

    /// The id of device `index` (0-based).
    public func deviceID(_ index: Int) -> String {
        let number = String(index + 1)
        return idPrefix + String(repeating: "0", count: max(0, 4 - number.count)) + number
    }

    /// The sensor topic of a device.
    public func topic(device: String) -> String { "\(prefix)/dev/\(device)/sensor/\(stream)" }

    /// Builds device `index`.
    public func makeDevice(_ index: Int) -> SimDevice {
        let model = sensor.makeModel(faultOnsetSeconds: faultOnsetSeconds)
        let channels = model.channels + (labels ? 1 : 0)
        var wireFormat = SensorBatch.SampleFormat.float32
        if format == "int16" {
            var scales = (0..<channels).map { int16Scales[$0 < int16Scales.count ? $0 : int16Scales.count - 1] }
            if labels { scales[channels - 1] = 1 }
            wireFormat = .int16(scales: scales)
        }
        return SimDevice(
            id: deviceID(index), model: model, rate: rateHz, batchFrames: batchFrames, seed: seed,
            index: index, format: wireFormat, labels: labels, faults: faults)
    }
}
