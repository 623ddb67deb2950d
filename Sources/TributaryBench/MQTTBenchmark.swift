import Foundation
import LocalBroker
import MQTT
import Synchronization

/// `tributary-bench mqtt`: publish → broker → subscribe throughput through a local Mosquitto (dev.conf limits),
/// for our Swift wrapper and for a C program using libmosquitto directly, in the same run against the same broker.
///
/// Each trial: a subscriber and a publisher connect; the publisher sends COUNT messages as fast as the bounded
/// in-flight window (1000) allows; the clock runs from the first publish to the last message received.
enum MQTTBenchmark {
    struct Trial {
        var qos: MQTTQoS
        var size: Int
        var count: Int
        var label: String { "qos\(qos.rawValue)-\(size >= 1024 ? "\(size / 1024)KiB" : "\(size)B")" }
    }

    static let window = 1_000

    static func run(runs: Int, quick: Bool, impl only: String?, only filter: String?, report: BenchReport) async throws
    {
        let scale = quick ? 10 : 1
        var trials: [Trial] = []
        for qos in [MQTTQoS.atMostOnce, .atLeastOnce] {
            trials.append(Trial(qos: qos, size: 64, count: (qos == .atMostOnce ? 200_000 : 100_000) / scale))
            trials.append(Trial(qos: qos, size: 4096, count: 100_000 / scale))
            trials.append(Trial(qos: qos, size: 256 * 1024, count: 2_000 / scale))
        }
        if let filter { trials.removeAll { !$0.label.contains(filter) } }
        let peer = try PeerPrograms.executable("mqtt_c_bench", libraries: ["-lmosquitto", "-lpthread"])
        let broker = try await MosquittoBroker.start()
        defer { Task { await broker.stop() } }
        progress("mosquitto on 127.0.0.1:\(broker.port), libmosquitto \(MQTTClient.libraryVersion), \(runs) runs")

        var samples: [String: [(rate: Double, bytes: Double)]] = [:]
        for run in 1...runs {
            for trial in trials {
                // Alternate which implementation goes first, so neither always gets the warmer broker.
                let order = run % 2 == 0 ? ["tributary", "libmosquitto-c"] : ["libmosquitto-c", "tributary"]
                for impl in order where only == nil || only == impl {
                    let (received, seconds) =
                        impl == "tributary"
                        ? try await swiftTrial(trial, broker: broker)
                        : try cTrial(trial, broker: broker, executable: peer)
                    let rate = Double(received) / seconds
                    samples["\(trial.label)|\(impl)", default: []].append((rate, rate * Double(trial.size) / 1e6))
                    if received < trial.count {
                        progress("\(impl) \(trial.label): \(received)/\(trial.count) delivered (broker dropped QoS 0)")
                    }
                }
            }
            progress("run \(run)/\(runs) done")
        }
        for trial in trials {
            for impl in ["tributary", "libmosquitto-c"] {
                guard let values = samples["\(trial.label)|\(impl)"] else { continue }
                report.add(
                    BenchRow(
                        case: "mqtt", name: "\(trial.label) msg/s", impl: impl,
                        samples: values.map(\.rate), unit: "msg/s", higherIsBetter: true))
                report.add(
                    BenchRow(
                        case: "mqtt", name: "\(trial.label) MB/s", impl: impl,
                        samples: values.map(\.bytes), unit: "MB/s", higherIsBetter: true))
            }
        }
        await broker.stop()
    }

    static func cTrial(_ trial: Trial, broker: MosquittoBroker, executable: String) throws -> (Int, Double) {
        let result = try PeerPrograms.run(
            executable,
            [
                broker.host, "\(broker.port)", "\(trial.qos.rawValue)", "\(trial.size)", "\(trial.count)", "\(window)",
            ])
        let fields = PeerPrograms.fields(result.output)
        guard result.status == 0, let received = fields["received"], let seconds = fields["seconds"] else {
            throw PeerPrograms.Failure(description: "mqtt_c_bench failed: \(result.output)")
        }
        return (Int(received), seconds)
    }

    static func swiftTrial(_ trial: Trial, broker: MosquittoBroker) async throws -> (Int, Double) {
        var configuration = try broker.settings.mqttConfiguration(clientID: "bench-sub-\(getpid())", cleanSession: true)
        configuration.maxInFlight = window
        let subscriber = try MQTTClient(configuration: configuration)
        configuration.clientID = "bench-pub-\(getpid())"
        let publisher = try MQTTClient(configuration: configuration)
        try await subscriber.connect()
        let received = Counter()
        try await subscriber.subscribe("bench/swift", qos: trial.qos) { _, _ in received.increment() }
        try await publisher.connect()

        let payload = UnsafeMutableRawBufferPointer.allocate(byteCount: max(trial.size, 8), alignment: 8)
        defer { payload.deallocate() }
        payload.initializeMemory(as: UInt8.self, repeating: 0)
        let clock = ContinuousClock()
        let started = clock.now
        for n in 0..<trial.count {
            payload.storeBytes(of: UInt64(n), as: UInt64.self)
            try await publisher.publish("bench/swift", payload: UnsafeRawBufferPointer(payload), qos: trial.qos)
        }
        // Wait for the last message without polling (a poller would steal CPU from the three busy threads on a
        // two-core machine); a slow watchdog ends trials where the broker dropped QoS 0 messages.
        let finished = await received.waitUntil(trial.count, stallTimeout: .seconds(2), clock: clock)
        let count = received.value
        await publisher.disconnect()
        await subscriber.disconnect()
        let elapsed = finished - started
        return (count, Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
    }
}

/// A counter incremented on a network thread; a waiter is woken when it reaches a target.
final class Counter: Sendable {
    private let storage = Atomic<Int>(0)
    private let target = Atomic<Int>(Int.max)
    private let waiter = Mutex<(CheckedContinuation<Void, Never>?, done: Bool)>((nil, false))

    func increment() {
        let value = storage.add(1, ordering: .relaxed).newValue
        if value == target.load(ordering: .relaxed) { wake() }
    }

    var value: Int { storage.load(ordering: .relaxed) }

    private func wake() {
        let continuation = waiter.withLock { state -> CheckedContinuation<Void, Never>? in
            state.done = true
            defer { state.0 = nil }
            return state.0
        }
        continuation?.resume()
    }

    /// Waits until `count` increments happened, or until none happened for `stallTimeout`; returns the instant of
    /// the last increment seen.
    func waitUntil(_ count: Int, stallTimeout: Duration, clock: ContinuousClock) async -> ContinuousClock.Instant {
        target.store(count, ordering: .relaxed)
        let watchdog = Task { [self] in
            var last = -1
            while !Task.isCancelled {
                try? await Task.sleep(for: stallTimeout)
                if value == last { wake() }
                last = value
            }
        }
        if value < count {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = waiter.withLock { state -> Bool in
                    if state.done || value >= count { return true }
                    state.0 = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        }
        let finished = clock.now
        watchdog.cancel()
        return value >= count ? finished : finished - stallTimeout
    }
}
