import BrokerConnection
import CSVCodec
import Foundation
import LocalBroker
import Logging
import MQTT
import Recording
import Replay
import Simulator
import SimulatorCore

/// `tributary-bench replay`: how small recordings are (the seglearn smartwatch data against raw float32, its CSV
/// and gzip'd CSV), how fast a recording plays into a local Mosquitto, and what 100 simulated devices at 1 kHz
/// publish and cost in CPU.
enum ReplayBenchmark {
    static func run(runs: Int, quick: Bool, only: String?, report: BenchReport) async throws {
        if only == nil || "bytes".contains(only!) || only!.contains("bytes") { try sizes(report: report) }
        if only == nil || only!.contains("play") { try await playback(runs: runs, quick: quick, report: report) }
        if only == nil || only!.contains("sim") { try await simulator(runs: runs, quick: quick, report: report) }
    }

    // MARK: Bytes per sample

    /// A 16-bit IMU's scales at ±`g` full scale for the accelerometer and ±2000 °/s for the gyroscope (what its
    /// ADC produces); smartwatch IMUs are configured at ±8 g or ±16 g.
    static func adcScales(g: Float) -> [Float] {
        Array(repeating: g / 32_768, count: 3) + Array(repeating: 2_000 * .pi / 180 / 32_768, count: 3)
    }

    static func sizes(report: BenchReport) throws {
        let directory = try SeglearnEvaluation.ensureData()
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path)
            .filter { $0.hasPrefix("s") && $0.hasSuffix(".csv") }.sorted()
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent(
            "tributary-bench-replay-\(getpid())")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        var totals = (frames: 0, csv: 0, gzip: 0, float32: 0, int16ADC8: 0, int16ADC16: 0, int16Full: 0)
        var encodeSeconds = 0.0
        progress("replay: converting \(files.count) seglearn CSVs")
        for file in files {
            let csv = directory.appendingPathComponent(file).path
            totals.csv += try fileSize(csv)
            totals.gzip += try gzipSize(csv)
            var options = CSVImport()
            options.rate = 50
            options.compressionLevel = 19
            let lossless = scratch.appendingPathComponent("f.trec").path
            var result: CSVImport.Result!
            encodeSeconds += try measure { result = try options.convert(csvPath: csv, to: lossless) }
            totals.frames += result.frames
            totals.float32 += result.bytes
            try verifyLossless(csv: csv, recording: lossless)
            options.storage = .int16(scales: adcScales(g: 8))
            totals.int16ADC8 += try options.convert(csvPath: csv, to: scratch.appendingPathComponent("a.trec").path)
                .bytes
            options.storage = .int16(scales: adcScales(g: 16))
            totals.int16ADC16 += try options.convert(csvPath: csv, to: scratch.appendingPathComponent("a.trec").path)
                .bytes
            options.storage = .int16Automatic
            totals.int16Full += try options.convert(csvPath: csv, to: scratch.appendingPathComponent("b.trec").path)
                .bytes
        }
        let frames = Double(totals.frames)
        progress("replay: \(totals.frames) frames; CSV → recording at \(Int(frames / encodeSeconds)) frames/s")
        let name = "seglearn bytes per 6-channel sample (\(files.count) files, \(totals.frames) frames)"
        for (impl, bytes) in [
            ("tributary", totals.float32), ("raw float32", totals.frames * 24), ("csv", totals.csv),
            ("csv + gzip -9", totals.gzip),
        ] {
            report.add(
                BenchRow(
                    case: "replay", name: name, impl: impl, samples: [Double(bytes) / frames],
                    unit: "B/sample", higherIsBetter: false))
        }
        for (label, bytes) in [
            ("int16 at ±8 g / ±2000 °/s full scale", totals.int16ADC8),
            ("int16 at ±16 g / ±2000 °/s full scale", totals.int16ADC16),
            ("int16 with each file's own range at full scale", totals.int16Full),
        ] {
            let name = "seglearn bytes per sample, \(label)"
            report.add(
                BenchRow(
                    case: "replay", name: name, impl: "tributary", samples: [Double(bytes) / frames],
                    unit: "B/sample", higherIsBetter: false))
            report.add(
                BenchRow(
                    case: "replay", name: name, impl: "raw float32", samples: [24], unit: "B/sample",
                    higherIsBetter: false))
        }
    }

    /// The recording holds exactly the CSV's float32 values (the benchmark refuses to report otherwise).
    static func verifyLossless(csv: String, recording: String) throws {
        let expected = try SeglearnEvaluation.loadRecording(URL(fileURLWithPath: csv)).values
        let got = try RecordingReader(path: recording).frames(stream: 0).values
        guard got.count == expected.count, zip(got, expected).allSatisfy({ $0.bitPattern == $1.bitPattern }) else {
            throw PeerPrograms.Failure(description: "\(recording) does not hold \(csv)'s values exactly")
        }
    }

    static func fileSize(_ path: String) throws -> Int {
        (try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
    }

    static func gzipSize(_ path: String) throws -> Int {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/gzip")
        process.arguments = ["-9", "-c", path]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let size = pipe.fileHandleForReading.readDataToEndOfFile().count
        process.waitUntilExit()
        return size
    }

    // MARK: Playback into Mosquitto

    static func playback(runs: Int, quick: Bool, report: BenchReport) async throws {
        let frames = quick ? 500_000 : 4_000_000
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("tributary-bench-imu-\(getpid()).trec")
            .path
        defer { try? FileManager.default.removeItem(atPath: path) }
        var profile = SimProfile()
        profile.rateHz = 1_000
        profile.batchFrames = 1_000
        progress("replay: writing a \(frames)-frame 6-channel IMU recording")
        var generator = SyntheticRecording(profile: profile, seconds: Double(frames) / 1_000)
        generator.chunkFrames = 8_192
        try generator.write(to: path)
        let reader = try RecordingReader(path: path)

        // Reading alone: chunks decompressed and decoded to frames.
        var decodeRates: [Double] = []
        for _ in 0..<runs {
            var decoded = 0
            let time = try measure {
                for chunk in reader.chunks where chunk.kind == .frames {
                    decoded += try reader.frames(chunk).timestamps.count
                }
            }
            decodeRates.append(Double(decoded) / time)
        }
        report.add(
            BenchRow(
                case: "replay", name: "read recording (6-channel IMU) frames/s", impl: "tributary",
                samples: decodeRates, unit: "frames/s", higherIsBetter: true))

        let broker = try await MosquittoBroker.start()
        defer { Task { await broker.stop() } }
        for qos in [MQTTQoS.atMostOnce, .atLeastOnce] {
            for batch in [100, 1_000] {
                var rates: [Double] = []
                for _ in 0..<runs {
                    var options = PlaybackOptions()
                    options.speed = nil
                    options.batchFrames = batch
                    options.qos = qos
                    let player = try Player([PlaybackAssignment(path: path)], options: options)
                    var quiet = Logger(label: "tributary.bench")
                    quiet.logLevel = .error
                    let client = try await broker.settings.connect(
                        clientID: "bench-play", logger: quiet, maxInFlight: 1_000)
                    let start = ContinuousClock.now
                    let stats = try await player.run(client: client, clock: ContinuousClock())
                    let elapsed = seconds(ContinuousClock.now - start)
                    await client.disconnect()
                    rates.append(Double(stats.frames) / elapsed)
                }
                report.add(
                    BenchRow(
                        case: "replay",
                        name: "play into mosquitto, as fast as possible, QoS \(qos.rawValue), \(batch) frames/message",
                        impl: "tributary", samples: rates, unit: "frames/s", higherIsBetter: true))
            }
        }
        await broker.stop()
    }

    // MARK: Simulator

    static func simulator(runs: Int, quick: Bool, report: BenchReport) async throws {
        let broker = try await MosquittoBroker.start()
        let span = quick ? 5.0 : 15.0
        // The fleet (100 devices at 1 kHz), and the highest rate asked for (10 kHz per device).
        for (devices, rate, batch) in [(100, 1_000.0, 50), (10, 10_000.0, 500)] {
            var rates: [Double] = []
            var cpu: [Double] = []
            var brokerCPU: [Double] = []
            for _ in 0..<max(1, runs / 2) {
                var profile = SimProfile()
                profile.devices = devices
                profile.rateHz = rate
                profile.batchFrames = batch
                var quiet = Logger(label: "bench.sim")
                quiet.logLevel = .error
                let fleet = SimulatorFleet(
                    profile: profile, broker: broker.settings,
                    duration: .seconds(span), logger: quiet)
                let before = processCPU()
                let brokerBefore = broker.pid.map(childCPU) ?? 0
                let start = ContinuousClock.now
                try await fleet.run()
                let wall = seconds(ContinuousClock.now - start)
                rates.append(Double(fleet.totals.frames) / span)
                cpu.append((processCPU() - before) / wall * 100)
                brokerCPU.append(((broker.pid.map(childCPU) ?? 0) - brokerBefore) / wall * 100)
            }
            let name = "simulator: \(devices) devices × \(Int(rate / 1_000)) kHz IMU (6 ch), \(batch) frames/message"
            report.add(
                BenchRow(
                    case: "replay", name: name + ", published frames/s", impl: "tributary", samples: rates,
                    unit: "frames/s", higherIsBetter: true))
            report.add(
                BenchRow(
                    case: "replay", name: name + ", target frames/s", impl: "configured",
                    samples: [Double(devices) * rate], unit: "frames/s", higherIsBetter: true))
            report.add(
                BenchRow(
                    case: "replay", name: name + ", simulator CPU", impl: "tributary", samples: cpu,
                    unit: "% of a core", higherIsBetter: false))
            report.add(
                BenchRow(
                    case: "replay", name: name + ", broker CPU", impl: "mosquitto", samples: brokerCPU,
                    unit: "% of a core", higherIsBetter: false))
        }
        await broker.stop()
    }

    /// User + system CPU seconds of this process.
    static func processCPU() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6 + Double(usage.ru_stime.tv_sec)
            + Double(usage.ru_stime.tv_usec) / 1e6
    }

    /// User + system CPU seconds of a child process, from /proc.
    static func childCPU(_ pid: pid_t) -> Double {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return 0 }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        // After the command: state is field 3; utime and stime are fields 14 and 15 (1-based in proc(5)).
        guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else { return 0 }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }
}
