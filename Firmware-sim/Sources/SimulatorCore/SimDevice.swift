public import SensorFrames

/// One simulated device, written like a microcontroller's main loop: sample the sensor at a fixed rate, fill a
/// batch, send it. Time is passed in, so the device is a pure function of its seed and the clock — tests step
/// it by hand, the fleet drives it from a real clock.
public struct SimDevice: Sendable {
    /// What the device publishes each time a batch is full.
    public struct Output: Sendable {
        /// The encoded sensor batch.
        public var payload: [UInt8]
        /// Sequence number used.
        public var sequence: UInt32
        /// Frames in the batch.
        public var frames: Int
    }

    /// Device id.
    public let id: String
    /// Sample rate (Hz).
    public let rate: Double
    /// Frames per batch.
    public let batchFrames: Int
    /// Sample format on the wire.
    public let format: SensorBatch.SampleFormat
    /// Whether a label channel is appended to every frame.
    public let labels: Bool
    /// Faults to inject.
    public let faults: FaultProfile
    /// Faults that happened.
    public private(set) var faultCounters = FaultCounters()
    /// Batches produced (published or lost).
    public private(set) var batches = 0

    var model: any SensorModel
    var random: SimRandom
    var sequence: UInt32 = 0
    var sampleIndex: Int64 = 0
    var frame: [Float]
    var values: [Float] = []
    var dropoutUntil = -1.0
    var offlineUntil = -1.0
    var stuckChannel = -1
    var stuckValue: Float = 0
    var stuckUntil = -1.0
    let epoch: Int64

    /// Creates a device. `epoch` is the wall-clock time (ns) its clock starts at.
    public init(
        id: String, model: any SensorModel, rate: Double, batchFrames: Int, seed: UInt64, index: Int,
        format: SensorBatch.SampleFormat = .float32, labels: Bool = false, faults: FaultProfile = FaultProfile(),
        epoch: Int64 = 1_700_000_000_000_000_000
    ) {
        precondition(rate > 0 && batchFrames > 0, "rate and batch size must be positive")
        self.id = id
        self.model = model
        self.rate = rate
        self.batchFrames = batchFrames
        self.format = format
        self.labels = labels
        self.faults = faults
        self.epoch = epoch
        random = SimRandom(seed: seed, stream: UInt64(index))
        frame = [Float](repeating: 0, count: model.channels + (labels ? 1 : 0))
        values.reserveCapacity(batchFrames * frame.count)
    }

    /// Channels per frame on the wire (sensor channels, plus the label channel if enabled).
    public var channels: Int { frame.count }
    /// Channel names on the wire.
    public var channelNames: [String] { model.channelNames + (labels ? ["label"] : []) }
    /// Units of the channels on the wire (empty for the label channel).
    public var channelUnits: [String] { model.units + (labels ? [""] : []) }
    /// Names of the sensor model's states (the label channel's values are indices into it).
    public var labelNames: [String] { model.labelNames }
    /// Seconds one batch covers.
    public var batchDuration: Double { Double(batchFrames) / rate }

    /// Samples the next batch (covering `batchDuration` seconds of device time) and returns it, or nil when the
    /// device is in a dropout or rebooting (the batch is lost, as on a real link).
    public mutating func nextBatch() -> Output? {
        let period = 1 / rate
        let firstT = Double(sampleIndex) * period
        applyFaultEvents(at: firstT, span: batchDuration)
        values.removeAll(keepingCapacity: true)
        let sensorChannels = model.channels
        let timestamps = (0..<batchFrames).map { i -> Int64 in
            let t = Double(sampleIndex + Int64(i)) * period
            return epoch + Int64((t * (1 + faults.clockDriftPPM * 1e-6) * 1e9).rounded())
        }
        for i in 0..<batchFrames {
            let t = Double(sampleIndex + Int64(i)) * period
            let label = frame.withUnsafeMutableBufferPointer { buffer in
                model.sample(
                    at: t, into: UnsafeMutableBufferPointer(rebasing: buffer[0..<sensorChannels]),
                    random: &random)
            }
            if t < stuckUntil && stuckChannel >= 0 { frame[stuckChannel] = stuckValue }
            if labels { frame[sensorChannels] = Float(label) }
            values += frame
        }
        injectSpikes(span: batchDuration, sensorChannels: sensorChannels)
        sampleIndex += Int64(batchFrames)
        batches += 1
        let lostTime = firstT < dropoutUntil || firstT < offlineUntil
        let payload = SensorBatch.encode(
            sequence: sequence, channels: channels, values: values, base: timestamps[0],
            timing: faults.clockDriftPPM == 0 && rate.truncatingRemainder(dividingBy: 1) == 0
                && (1_000_000_000 % Int64(rate)) == 0
                ? .fixedPeriod(UInt32(1_000_000_000 / Int64(rate))) : .timestamps(timestamps),
            format: format)
        let output = Output(payload: payload, sequence: sequence, frames: batchFrames)
        sequence &+= 1
        if lostTime {
            faultCounters.lostBatches += 1
            return nil
        }
        return output
    }

    mutating func applyFaultEvents(at t: Double, span: Double) {
        if faults.dropoutPerSecond > 0 && t >= dropoutUntil && random.chance(faults.dropoutPerSecond * span) {
            dropoutUntil = t + faults.dropoutSeconds
            faultCounters.dropouts += 1
        }
        if faults.rebootsPerHour > 0 && t >= offlineUntil && random.chance(faults.rebootsPerHour * span / 3600) {
            offlineUntil = t + 2
            sequence = 0
            faultCounters.reboots += 1
        }
        if faults.stuckPerSecond > 0 && t >= stuckUntil && random.chance(faults.stuckPerSecond * span) {
            stuckChannel = Int(random.next() % UInt64(model.channels))
            stuckValue = frame[stuckChannel]
            stuckUntil = t + faults.stuckSeconds
            faultCounters.stuck += 1
        }
    }

    mutating func injectSpikes(span: Double, sensorChannels: Int) {
        guard faults.spikesPerSecond > 0 else { return }
        var expected = faults.spikesPerSecond * span
        while expected > 0 {
            if random.unit() < min(1, expected) {
                let index =
                    Int(random.next() % UInt64(batchFrames)) * channels + Int(random.next() % UInt64(sensorChannels))
                values[index] += Float(random.chance(0.5) ? faults.spikeMagnitude : -faults.spikeMagnitude)
                faultCounters.spikes += 1
            }
            expected -= 1
        }
    }
}
