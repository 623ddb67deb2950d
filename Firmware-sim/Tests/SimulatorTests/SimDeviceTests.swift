import Foundation
import SensorFrames
import SimulatorCore
import Testing

@Suite struct SimDeviceTests {
    static func device(
        _ sensor: SensorKind, index: Int = 0, seed: UInt64 = 1, rate: Double = 100, batch: Int = 50,
        labels: Bool = true, faults: FaultProfile = FaultProfile()
    ) -> SimDevice {
        SimDevice(
            id: "d\(index)", model: sensor.makeModel(faultOnsetSeconds: 10), rate: rate, batchFrames: batch,
            seed: seed, index: index, labels: labels, faults: faults)
    }

    static func decode(_ output: SimDevice.Output?) throws -> (timestamps: [Int64], values: [Float]) {
        let payload = try #require(output).payload
        let decoded = try payload.withUnsafeBytes { try SensorBatch.decode($0) }
        return (decoded.timestamps, decoded.values)
    }

    @Test(
        "the same seed and device index give the same batches; another index or seed does not",
        arguments: SensorKind.allCases)
    func deterministic(sensor: SensorKind) {
        var a = Self.device(sensor, index: 3, seed: 9)
        var b = Self.device(sensor, index: 3, seed: 9)
        var c = Self.device(sensor, index: 4, seed: 9)
        var d = Self.device(sensor, index: 3, seed: 10)
        var same = true
        var differs = (index: false, seed: false)
        for _ in 0..<40 {
            let x = a.nextBatch()?.payload
            same = same && x == b.nextBatch()?.payload
            differs.index = differs.index || x != c.nextBatch()?.payload
            differs.seed = differs.seed || x != d.nextBatch()?.payload
        }
        #expect(same)
        #expect(differs.index && differs.seed)
    }

    @Test("IMU: gravity dominates at rest, activities change and travel in the label channel")
    func imu() throws {
        var device = Self.device(.imu, rate: 50, batch: 50)
        var labels = Set<Float>()
        var restMagnitudes: [Double] = []
        for _ in 0..<120 {
            let (_, values) = try Self.decode(device.nextBatch())
            for f in 0..<50 {
                let frame = values[(f * 7)..<(f * 7 + 7)]
                let label = frame[frame.startIndex + 6]
                labels.insert(label)
                if label == 0 {
                    let ax = Double(frame[frame.startIndex]), ay = Double(frame[frame.startIndex + 1])
                    let az = Double(frame[frame.startIndex + 2])
                    restMagnitudes.append((ax * ax + ay * ay + az * az).squareRoot())
                }
            }
        }
        #expect(labels.count >= 3)
        #expect(!restMagnitudes.isEmpty)
        let mean = restMagnitudes.reduce(0, +) / Double(restMagnitudes.count)
        #expect(abs(mean - 9.81) < 0.2)
    }

    /// Power of `values` at `frequency` (Goertzel).
    static func power(_ values: [Float], rate: Double, frequency: Double) -> Double {
        let omega = 2 * Double.pi * frequency / rate
        let coefficient = 2 * cos(omega)
        var s1 = 0.0
        var s2 = 0.0
        for v in values {
            let s = Double(v) + coefficient * s1 - s2
            s2 = s1
            s1 = s
        }
        return (s1 * s1 + s2 * s2 - coefficient * s1 * s2) / Double(values.count * values.count)
    }

    @Test("vibration: the bearing-fault frequency appears after onset and the label follows it")
    func vibration() throws {
        var device = SimDevice(
            id: "pump", model: VibrationModel(faultOnset: 2), rate: 5000, batchFrames: 5000,
            seed: 1, index: 0, labels: true)
        func channelX(_ values: [Float]) -> [Float] { stride(from: 0, to: values.count, by: 4).map { values[$0] } }
        let healthy = try Self.decode(device.nextBatch()).values  // t = 0…1 s
        for _ in 0..<200 { _ = device.nextBatch() }  // run on to well past onset
        let faulty = try Self.decode(device.nextBatch()).values
        let bpfo = 3.58 * 29.5
        let before = Self.power(channelX(healthy), rate: 5000, frequency: bpfo)
        let after = Self.power(channelX(faulty), rate: 5000, frequency: bpfo)
        #expect(after > 100 * before)
        #expect(healthy[3] == 0 && faulty[3] == 1)
    }

    @Test("motor current amplitude follows the load label")
    func motor() throws {
        var device = Self.device(.motor, rate: 1000, batch: 1000)
        var peaks: [Float: Float] = [:]
        for _ in 0..<200 {
            let (_, values) = try Self.decode(device.nextBatch())
            for f in 0..<1000 {
                let label = values[f * 4 + 3]
                peaks[label] = max(peaks[label] ?? 0, abs(values[f * 4]))
            }
        }
        let ordered = peaks.sorted { $0.key < $1.key }.map(\.value)
        #expect(ordered.count >= 3)
        #expect(ordered == ordered.sorted())
    }

    @Test("faults: dropouts lose batches, reboots restart the sequence, spikes and stuck channels show in the data")
    func faults() throws {
        var profile = FaultProfile()
        profile.dropoutPerSecond = 0.2
        profile.dropoutSeconds = 1
        profile.rebootsPerHour = 360
        profile.spikesPerSecond = 5
        profile.spikeMagnitude = 1000
        var device = Self.device(.temperature, rate: 100, batch: 100, labels: false, faults: profile)
        var sequences: [UInt32] = []
        var spikes = 0
        for _ in 0..<300 {
            guard let output = device.nextBatch() else { continue }
            sequences.append(output.sequence)
            let values = try Self.decode(output).values
            spikes += values.filter { abs($0) > 500 }.count
        }
        let counters = device.faultCounters
        #expect(counters.dropouts > 0 && counters.lostBatches > 0)
        #expect(sequences.count == 300 - counters.lostBatches)
        #expect(counters.reboots > 0)
        #expect(zip(sequences, sequences.dropFirst()).contains { $1 < $0 })  // the counter started over
        #expect(counters.spikes > 0 && spikes > 0)
    }

    @Test("a stuck channel repeats one value for the stuck time, while the others keep moving")
    func stuck() throws {
        var profile = FaultProfile()
        profile.stuckPerSecond = 0.2
        profile.stuckSeconds = 1
        var device = Self.device(.motor, rate: 100, batch: 100, labels: false, faults: profile)
        var longestRun = 0
        var previous: [Float] = []
        var run = [Int](repeating: 0, count: 3)
        for _ in 0..<100 {
            let values = try Self.decode(device.nextBatch()).values
            for f in 0..<100 {
                let frame = Array(values[(f * 3)..<(f * 3 + 3)])
                for c in 0..<3 {
                    run[c] = !previous.isEmpty && previous[c] == frame[c] ? run[c] + 1 : 0
                    longestRun = max(longestRun, run[c])
                }
                previous = frame
            }
        }
        #expect(device.faultCounters.stuck > 0)
        #expect(longestRun >= 90)  // about 1 s at 100 Hz
    }

    @Test("clock drift stretches device time stamps by the configured parts per million")
    func clockDrift() throws {
        var profile = FaultProfile()
        profile.clockDriftPPM = 1000
        var device = Self.device(.temperature, rate: 10, batch: 10, labels: false, faults: profile)
        var last: Int64 = 0
        var first: Int64 = 0
        for i in 0..<100 {
            let times = try Self.decode(device.nextBatch()).timestamps
            if i == 0 { first = times[0] }
            last = times[9]
        }
        // 999 sample periods of 0.1 s, 1000 ppm fast.
        #expect(abs(Double(last - first) - 99.9e9 * 1.001) < 1e3)
    }
}
