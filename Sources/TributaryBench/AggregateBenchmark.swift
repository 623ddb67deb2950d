import AggregatorService
import Federation
import Foundation
import LocalBroker
import Logging
import MQTT
import Synchronization
import Trust
import UpdateCodec

/// `tributary-bench aggregate`: updates accepted per second by the aggregator, end to end (MQTT → decode →
/// aggregate → durable commit → acknowledgement) through a local Mosquitto, against what the broker alone
/// delivers of the same messages to a plain subscriber; and with the transport removed (the aggregator's core fed
/// directly).
///
/// Workload: 1,000 devices each send one update of a 101,519-parameter model (an MLP 36-1000-64-7) at k = 1,000
/// with int8 values, as the agent's codec produces them.
enum AggregateBenchmark {
    static let devices = 1_000
    static let k = 1_000

    static var spec: TaskSpec {
        TaskSpec(
            task: "bench",
            model: .init(head: .softmax, inputs: 36, outputs: 7, hidden: [1_000, 64]),
            data: .init(
                stream: "imu", channels: [0, 1, 2, 3, 4, 5], labelChannel: 6, windowFrames: 100, hopFrames: 50,
                features: ["mean", "std", "min", "max", "rms", "zcr"]),
            codec: .init(kFraction: Double(k) / 101_519, values: "int8")
        ).sealed()
    }

    /// The aggregator's configuration: development mode, or production mode's checks with `trust` (its key and
    /// the registry; the transport stays what the broker offers, so only the checks differ).
    static func config(stateDir: String, port: Int, trust: AggregatorConfig.Trust? = nil) -> AggregatorConfig {
        var config = AggregatorConfig(task: spec)
        config.insecure = trust == nil
        if let trust { config.trust = trust }
        config.stateDir = stateDir
        config.http.port = 0
        config.broker.port = port
        config.broker.clientID = "bench-aggregator-\(UUID().uuidString.prefix(6))"
        config.rounds.minParticipants = devices
        config.rounds.durationS = 600
        return config
    }

    /// One update per device for round 1 of a fresh aggregator (whose initial model is known from the seed),
    /// signed with the device's key when `signers` are given (one per device).
    static func payloads(signers: [SigningKey]? = nil) throws -> [(topic: String, bytes: [UInt8])] {
        let spec = spec
        let initial = spec.model.network.initialParameters(seed: spec.model.initSeed)
        let base = ModelHash.of(initial)
        let n = spec.dimension
        var encoder = try UpdateEncoder(level: 3)
        var random = BenchRandom(seed: 5)
        var result: [(String, [UInt8])] = []
        for d in 0..<devices {
            var feedback = ErrorFeedback(dimension: n)
            let delta = (0..<n).map { _ in Float(random.normal()) * 0.01 }
            let compressed = delta.withUnsafeBufferPointer { feedback.compress($0, k: k, encoding: .int8) }
            let header = UpdateHeader(
                type: .update, task: spec.task, round: 1, device: "dev\(d)", sampleWeight: 100, dimension: n,
                baseModelHash: base)
            let encoded = try encoder.encode(header, compressed)
            let bytes = signers.map { SignedMessage.sign(encoded, with: $0[d]) } ?? encoded
            result.append(("tributary/v1/fl/\(spec.task)/update/dev\(d)", bytes))
        }
        return result
    }

    static func run(runs: Int, quick: Bool, report: BenchReport) async throws {
        progress("aggregate: encoding \(devices) updates of \(spec.dimension) parameters at k = \(k)")
        let messages = try payloads()
        let bytes = messages.reduce(0) { $0 + $1.bytes.count }
        progress("aggregate: \(bytes / devices) bytes per update")
        let broker = try await MosquittoBroker.start()
        var brokerRates: [Double] = []
        var endToEndRates: [Double] = []
        var coreRates: [Double] = []
        var ackRates: [Double] = []
        var echoRates: [Double] = []
        for run in 1...runs {
            brokerRates.append(try await brokerAlone(messages, broker: broker))
            echoRates.append(try await brokerWithAcks(messages, broker: broker))
            endToEndRates.append(try await endToEnd(messages, broker: broker))
            ackRates.append(lastAckRate.withLock { $0 })
            coreRates.append(try direct(messages))
            progress(
                "run \(run)/\(runs): broker \(Int(brokerRates.last!)) msg/s, aggregator \(Int(endToEndRates.last!)) updates/s, core \(Int(coreRates.last!)) updates/s"
            )
        }
        await broker.stop()
        let name = "\(devices) devices × k=\(k) updates of \(spec.dimension) parameters, per second"
        report.add(
            BenchRow(
                case: "aggregate", name: name, impl: "tributary", samples: endToEndRates, unit: "updates/s",
                higherIsBetter: true))
        report.add(
            BenchRow(
                case: "aggregate", name: name, impl: "mosquitto alone", samples: brokerRates,
                unit: "updates/s", higherIsBetter: true))
        let ackName = "acknowledged at the devices (to the last acknowledgement), per second"
        report.add(
            BenchRow(
                case: "aggregate", name: ackName, impl: "tributary", samples: ackRates, unit: "updates/s",
                higherIsBetter: true))
        report.add(
            BenchRow(
                case: "aggregate", name: ackName, impl: "mosquitto + instant acks", samples: echoRates,
                unit: "updates/s",
                higherIsBetter: true))
        report.add(
            BenchRow(
                case: "aggregate", name: "transport removed: decode + aggregate + commit + ack, per second",
                impl: "tributary", samples: coreRates, unit: "updates/s", higherIsBetter: true))
    }

    /// The same messages to a subscriber that only counts them.
    static func brokerAlone(_ messages: [(topic: String, bytes: [UInt8])], broker: MosquittoBroker) async throws
        -> Double
    {
        try await deliveryRate(messages, broker: broker, countedOn: "tributary/v1/fl/bench/update/+", name: "bench")
    }

    /// The same messages through the same protocol with nothing behind it: a subscriber that answers each update
    /// with an acknowledgement-sized message at once (no decoding, no storage). The clock runs to the last answer.
    static func brokerWithAcks(_ messages: [(topic: String, bytes: [UInt8])], broker: MosquittoBroker) async throws
        -> Double
    {
        var configuration = broker.clientConfiguration("bench-echo")
        configuration.maxInFlight = 4_096
        let echo = try MQTTClient(configuration: configuration)
        try await echo.connect()
        let ack = Array(#"{"device":"dev000","round":1,"status":"accepted","task":"bench","v":1}"#.utf8)
        try await echo.subscribe("tributary/v1/fl/bench/update/+", qos: .atLeastOnce) { [echo] topic, _ in
            let device = String(cString: topic).split(separator: "/").last.map(String.init) ?? "x"
            ack.withUnsafeBytes { bytes in
                while (try? echo.tryPublish("tributary/v1/fl/bench/ack/\(device)", payload: bytes, qos: .atLeastOnce))
                    == nil
                {}
            }
        }
        let rate = try await deliveryRate(
            messages, broker: broker, countedOn: "tributary/v1/fl/bench/ack/+", name: "bench-echo")
        await echo.disconnect()
        return rate
    }

    /// Publishes `messages` (QoS 1) and times them until as many have arrived on `filter`: messages/s.
    static func deliveryRate(
        _ messages: [(topic: String, bytes: [UInt8])], broker: MosquittoBroker, countedOn filter: String, name: String
    ) async throws -> Double {
        let counter = try MQTTClient(configuration: broker.clientConfiguration("\(name)-sub"))
        try await counter.connect()
        let received = Atomic<Int>(0)
        let done = Mutex<ContinuousClock.Instant?>(nil)
        let total = messages.count
        try await counter.subscribe(filter, qos: .atLeastOnce) { _, _ in
            if received.add(1, ordering: .relaxed).newValue == total { done.withLock { $0 = .now } }
        }
        let publisher = try MQTTClient(configuration: broker.clientConfiguration("\(name)-pub"))
        try await publisher.connect()
        let start = ContinuousClock.now
        for message in messages {
            try await publisher.publish(message.topic, payload: message.bytes, qos: .atLeastOnce)
        }
        _ = await eventually(timeout: .seconds(60), poll: .milliseconds(1)) { done.withLock { $0 } != nil }
        let end = done.withLock { $0 } ?? .now
        await publisher.disconnect()
        await counter.disconnect()
        return Double(received.load(ordering: .relaxed)) / seconds(end - start)
    }

    /// A real aggregator service; the clock runs from the first publish to the last accepted acknowledgement.
    static func endToEnd(
        _ messages: [(topic: String, bytes: [UInt8])], broker: MosquittoBroker, trust: AggregatorConfig.Trust? = nil
    ) async throws -> Double {
        let state = FileManager.default.temporaryDirectory.appendingPathComponent(
            "tributary-bench-agg-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: state) }
        var logger = Logger(label: "bench.aggregator")
        logger.logLevel = ProcessInfo.processInfo.environment["TRIBUTARY_BENCH_DETAIL"] != nil ? .info : .error
        // The previous run's retained announcement must not be taken for this run's.
        let cleaner = try MQTTClient(configuration: broker.clientConfiguration("bench-clean"))
        try await cleaner.connect()
        for topic in ["round", "model", "spec", "metrics"] {
            try await cleaner.publishConfirmed("tributary/v1/fl/bench/\(topic)", payload: [], retain: true)
        }
        await cleaner.disconnect()
        let service = AggregatorService(
            config: config(stateDir: state.path, port: broker.port, trust: trust), logger: logger)
        let task = Task { try await service.run() }
        let watcher = try MQTTClient(configuration: broker.clientConfiguration("bench-acks"))
        try await watcher.connect()
        let announced = Atomic<Bool>(false)
        let acked = Atomic<Int>(0)
        let done = Mutex<ContinuousClock.Instant?>(nil)
        let total = messages.count
        try await watcher.subscribe("tributary/v1/fl/bench/round", qos: .atLeastOnce) { _, payload in
            if (try? RoundAnnouncement.decode(SignedJSON.open(Array(payload)).body))?.round == 1 {
                announced.store(true, ordering: .relaxed)
            }
        }
        try await watcher.subscribe("tributary/v1/fl/bench/ack/+", qos: .atLeastOnce) { _, payload in
            guard let ack = try? UpdateAck.decode(SignedJSON.open(Array(payload)).body), ack.status == .accepted else {
                return
            }
            if acked.add(1, ordering: .relaxed).newValue == total { done.withLock { $0 = .now } }
        }
        guard await eventually(timeout: .seconds(30), { announced.load(ordering: .relaxed) }) else {
            throw PeerPrograms.Failure(
                description: "the aggregator did not announce a round: \(service.error.map { "\($0)" } ?? "")")
        }
        let publisher = try MQTTClient(configuration: broker.clientConfiguration("bench-devices"))
        try await publisher.connect()
        let start = ContinuousClock.now
        for message in messages {
            try await publisher.publish(message.topic, payload: message.bytes, qos: .atLeastOnce)
        }
        // Accepted = durably committed by the aggregator (its acknowledgements follow, and are waited for too).
        _ = await eventually(timeout: .seconds(120), poll: .milliseconds(1)) { service.acceptedUpdates >= total }
        let end = ContinuousClock.now
        _ = await eventually(timeout: .seconds(120), poll: .milliseconds(1)) { done.withLock { $0 } != nil }
        let ackEnd = done.withLock { $0 } ?? .now
        let count = acked.load(ordering: .relaxed)
        lastAckRate.withLock { $0 = Double(count) / seconds(ackEnd - start) }
        await publisher.disconnect()
        await watcher.disconnect()
        task.cancel()
        _ = try? await task.value
        if count < total { progress("aggregate: only \(count)/\(total) updates acknowledged") }
        return Double(service.acceptedUpdates) / seconds(end - start)
    }

    /// Acknowledgements received per second in the last end-to-end run (to the last acknowledgement).
    static let lastAckRate = Mutex(0.0)

    /// The core without MQTT: receive every update, commit once per 256 (as the service batches), aggregate.
    static func direct(_ messages: [(topic: String, bytes: [UInt8])], trust: AggregatorConfig.Trust? = nil) throws
        -> Double
    {
        let state = FileManager.default.temporaryDirectory.appendingPathComponent(
            "tributary-bench-core-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: state) }
        var logger = Logger(label: "bench.core")
        logger.logLevel = ProcessInfo.processInfo.environment["TRIBUTARY_BENCH_DETAIL"] != nil ? .debug : .error
        let core = try AggregatorCore(
            config: config(stateDir: state.path, port: 1, trust: trust), metrics: AggregatorMetrics(), logger: logger)
        _ = try core.start(now: 0)
        var accepted = 0
        var receiving = 0.0
        var committing = 0.0
        let time = try measure {
            var checks: [SignatureCheck?] = []
            for (i, message) in messages.enumerated() {
                receiving += measure {
                    // As the service does: a batch's signatures are checked ahead, on every core.
                    if i % 256 == 0 {
                        checks = core.checkSignatures(
                            messages[i..<min(i + 256, messages.count)].map { ($0.topic, $0.bytes) })
                    }
                    message.bytes.withUnsafeBytes {
                        core.receive(update: $0, topic: message.topic, now: 1, checked: checks[i % 256])
                    }
                }
                if i % 256 == 255 || i == messages.count - 1 {
                    let t = try measure {
                        accepted += try core.commit(now: 1).filter { $0.topic.contains("/ack/") }.count
                    }
                    committing += t
                    if ProcessInfo.processInfo.environment["TRIBUTARY_BENCH_DETAIL"] != nil {
                        progress("commit \(i): \(t)")
                    }
                }
            }
        }
        if ProcessInfo.processInfo.environment["TRIBUTARY_BENCH_DETAIL"] != nil {
            progress("core: receive \(receiving) s, commit (with aggregation) \(committing) s")
        }
        return Double(accepted) / time
    }
}
