import BrokerConnection
import Federation
import Foundation
import Glibc
import MQTT
import Synchronization
import TributaryTestSupport
import UpdateCodec

/// A small federation of real processes for end-to-end tests: a Mosquitto broker (from the test), a
/// `tributary-aggregator`, and one `tributary-agent` per device reading a simulated recording (looped, faster than
/// real time), plus a watcher that records every round's metrics, every acknowledgement and every status.
final class Fleet: Sendable {
    /// How the fleet is set up.
    struct Setup {
        var devices = 5
        var rounds = 5
        var minParticipants = 5
        var roundSeconds = 30.0
        var samples = 40
        var learningRate = 0.01
        /// Playback speed of each agent's recording (× real time).
        var speed = 20.0
        /// Share of the model in each downlink delta (1: the dense model only).
        var downlinkKFraction = 1.0
        /// The aggregator's `strategy:` section.
        var strategy = "{kind: fedavg}"
    }

    let broker: MosquittoBroker
    let directory: String
    let setup: Setup
    let devices: [String]
    let watcher: Watcher
    let agents = Mutex<[String: ChildProcess]>([:])
    let aggregator = Mutex<ChildProcess?>(nil)
    let launches = Mutex<Int>(0)
    /// Production mode: the provisioned fleet directory (`tributary provision`), nil in development mode.
    let fleet: URL?

    init(broker: MosquittoBroker, setup: Setup = Setup(), fleet: URL? = nil, directory: String? = nil) async throws {
        self.broker = broker
        self.setup = setup
        self.fleet = fleet
        var template = Array("/tmp/tributary-agent-e2e-XXXXXX".utf8CString)
        self.directory =
            directory ?? template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)!) }
        let directory = self.directory
        devices = (1...setup.devices).map { "d\($0)" }
        watcher = try await Watcher(
            broker: broker, settings: fleet.map { Self.identity(broker, $0, client: "watcher") })
        for (i, device) in devices.enumerated() {
            let generate = try ChildProcess(
                builtExecutable("tributary-replay"),
                [
                    "generate", "\(directory)/\(device).trec", "--sensor", "imu", "--seconds", "300", "--seed",
                    "\(i + 11)", "--device", "\(i)", "--labels",
                ], standardOutput: "\(directory)/generate.log")
            guard await generate.waitForExit(timeout: .seconds(60)) == 0 else {
                throw FleetError("tributary-replay generate failed: \(log("generate"))")
            }
        }
        try startAggregator()
        for device in devices { try startAgent(device) }
    }

    /// How a provisioned client (`devices/ID` or `clients/NAME`) reaches the broker: mutual TLS.
    static func identity(_ broker: MosquittoBroker, _ fleet: URL, device: String? = nil, client: String? = nil)
        -> BrokerSettings
    {
        let folder = fleet.appendingPathComponent(device.map { "devices/\($0)" } ?? "clients/\(client!)").path
        return BrokerSettings(
            host: broker.host, port: broker.port,
            transport: .tls(
                .init(
                    caFile: folder + "/ca.crt",
                    identity: .init(certificateFile: folder + "/tls.crt", keyFile: folder + "/tls.key"))))
    }

    /// The `broker:` (and `trust:`) lines of a program's configuration.
    func connectionYAML(device: String?) -> String {
        guard let fleet else { return "insecure: true\nbroker: {host: 127.0.0.1, port: \(broker.port)}" }
        let folder = fleet.appendingPathComponent(device.map { "devices/\($0)" } ?? "clients/aggregator").path
        let trust =
            device == nil
            ? "{signing_key: \(folder)/signing.key, registry: \(fleet.path)/registry.json}"
            : "{signing_key: \(folder)/signing.key, aggregator_key: \(fleet.path)/clients/aggregator/signing.pub}"
        return """
            broker: {host: 127.0.0.1, port: \(broker.port),
                     tls: {ca_file: \(folder)/ca.crt, cert_file: \(folder)/tls.crt, key_file: \(folder)/tls.key}}
            trust: \(trust)
            """
    }

    var aggregatorYAML: String {
        """
        \(connectionYAML(device: nil))
        state_dir: \(directory)/aggregator
        http: {host: 127.0.0.1, port: 0}
        task:
          task: har
          model: {head: softmax, inputs: 36, outputs: 4}
          data: {stream: imu, channels: [0, 1, 2, 3, 4, 5], label_channel: 6, window_frames: 100, hop_frames: 50,
                 features: [mean, std, min, max, rms, zcr]}
          training: {optimizer: adam, learning_rate: \(setup.learningRate)}
          codec: {k_fraction: 0.1, values: int8, downlink_k_fraction: \(setup.downlinkKFraction)}
        rounds: {duration_s: \(setup.roundSeconds), min_participants: \(setup.minParticipants),
                 max_rounds: \(setup.rounds), local: {samples: \(setup.samples)}}
        strategy: \(setup.strategy)
        """
    }

    /// Starts (or restarts) the aggregator on the same state directory.
    func startAggregator() throws {
        let config = "\(directory)/aggregator.yaml"
        try aggregatorYAML.write(toFile: config, atomically: true, encoding: .utf8)
        let process = try ChildProcess(
            builtExecutable("tributary-aggregator"), ["--config", config],
            standardOutput: "\(directory)/aggregator.log")
        aggregator.withLock { $0 = process }
    }

    /// Starts (or restarts) a device's agent on its state directory.
    func startAgent(_ device: String) throws {
        let config = "\(directory)/agent-\(device).yaml"
        let yaml = """
            device_id: \(device)
            \(connectionYAML(device: device))
            task: har
            state_dir: \(directory)/agent-\(device)
            source: {kind: recording, stream: imu, channels: 7, speed: \(setup.speed), loop: true,
                     recordings: [\(directory)/\(device).trec]}
            status_interval_s: 0.5
            resend_s: 1
            """
        try yaml.write(toFile: config, atomically: true, encoding: .utf8)
        let process = try ChildProcess(
            builtExecutable("tributary-agent"), ["--config", config],
            standardOutput: "\(directory)/agent-\(device).log")
        agents.withLock { $0[device] = process }
    }

    /// Kills a device's agent with SIGKILL (no state saved, no offline status: the will goes out).
    func killAgent(_ device: String) async {
        guard let process = agents.withLock({ $0.removeValue(forKey: device) }) else { return }
        process.send(SIGKILL)
        _ = await process.waitForExit(timeout: .seconds(10))
    }

    /// Kills the aggregator with SIGKILL.
    func killAggregator() async {
        guard let process = aggregator.withLock({ $0 }) else { return }
        process.send(SIGKILL)
        _ = await process.waitForExit(timeout: .seconds(10))
    }

    /// Waits until the aggregator has ended `round` (aggregated or failed).
    func waitForRoundEnd(_ round: UInt32, timeout: Duration = .seconds(120)) async -> Bool {
        await eventually(timeout: timeout, poll: .milliseconds(50)) { self.watcher.metrics(round) != nil }
    }

    /// SIGTERM to every agent and the aggregator; returns the exit statuses by name.
    func stop() async -> [String: Int32?] {
        var statuses: [String: Int32?] = [:]
        for (device, process) in agents.withLock({ $0 }) {
            statuses["agent \(device)"] = await process.terminate(grace: .seconds(15))
        }
        if let process = aggregator.withLock({ $0 }) {
            statuses["aggregator"] = await process.terminate(grace: .seconds(15))
        }
        await watcher.close()
        return statuses
    }

    /// A process's log (`aggregator`, `agent-d1`, `generate`).
    func log(_ name: String) -> String {
        (try? String(contentsOfFile: "\(directory)/\(name).log", encoding: .utf8)) ?? ""
    }

    /// Every log, for a failing test's message.
    var logs: String {
        (["aggregator"] + devices.map { "agent-\($0)" }).map { "== \($0)\n\(log($0).suffix(3_000))" }
            .joined(separator: "\n")
    }
}

struct FleetError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Records what the aggregator and the agents publish. Persistent session, QoS 1: a broker restart loses nothing.
final class Watcher: Sendable {
    struct State {
        var metrics: [UInt32: RoundMetrics] = [:]
        var acks: [UpdateAck] = []
        var statuses: [String: DeviceStatus] = [:]
        /// Hold-out accuracy each device reported for each global model round.
        var accuracy: [UInt32: [String: Double]] = [:]
        /// The first hold-out accuracy each device reported (for the first global model it evaluated).
        var firstAccuracy: [String: Double] = [:]
        var summaries: [String: Int] = [:]
        var rounds: Set<UInt32> = []
        /// Updates seen on the wire: round → devices that sent one.
        var sent: [UInt32: Set<String>] = [:]
        /// Sizes of the full model messages and of the sparse model deltas seen.
        var modelSizes: [Int] = []
        var deltaSizes: [Int] = []
        /// Every payload on every topic under the prefix, in arrival order (a watcher of `everything`).
        var raw: [String: [[UInt8]]] = [:]
        /// Every state each device's status reported, in order.
        var states: [String: [String]] = [:]
        /// Round announcements.
        var announcements: [UInt32: RoundAnnouncement] = [:]
        /// Update messages seen, by the device in their header.
        var updates: [String: [[UInt8]]] = [:]
    }

    let client: MQTTClient
    let state = Mutex(State())
    let topics = Topics(task: "har")

    /// Watches `broker` anonymously, or as a provisioned observer (`settings`). With `everything`, it only records
    /// every payload under the prefix (`raw(topic)`, sensor topics left out): an observer's view of the whole broker,
    /// with no other subscription to take a message first (the broker delivers it once per client).
    init(broker: MosquittoBroker, settings: BrokerSettings? = nil, everything: Bool = false) async throws {
        if let settings {
            var configuration = try settings.mqttConfiguration(clientID: "watcher", cleanSession: false)
            configuration.reconnect = MQTTReconnectPolicy(minDelay: .milliseconds(50), maxDelay: .milliseconds(500))
            client = try MQTTClient(configuration: configuration)
            try await client.connect()
        } else {
            client = try await broker.connectedClient("watcher", cleanSession: false)
        }
        if everything {
            try await client.subscribe(topics.prefix + "/#", qos: .atLeastOnce) { [self] topic, payload in
                let name = String(cString: topic)
                guard !name.contains("/sensor/") else { return }
                self.state.withLock { $0.raw[name, default: []].append(Array(payload)) }
            }
            return
        }
        try await client.subscribe(topics.metrics, qos: .atLeastOnce) { [self] _, payload in
            guard let metrics = try? RoundMetrics.decode(Array(payload)) else { return }
            self.state.withLock { $0.metrics[metrics.round] = metrics }
        }
        try await client.subscribe(topics.round, qos: .atLeastOnce) { [self] _, payload in
            guard let round = try? RoundAnnouncement.decode(SignedJSON.open(Array(payload)).body) else { return }
            self.state.withLock {
                $0.rounds.insert(round.round)
                $0.announcements[round.round] = round
            }
        }
        try await client.subscribe(topics.updates, qos: .atLeastOnce) { [self] _, payload in
            guard let decoder = try? UpdateDecoder(), let header = try? decoder.header(payload) else { return }
            self.state.withLock {
                $0.sent[header.round, default: []].insert(header.device)
                $0.updates[header.device, default: []].append(Array(payload))
            }
        }
        try await client.subscribe(topics.model, qos: .atLeastOnce) { [self] _, payload in
            self.state.withLock { $0.modelSizes.append(payload.count) }
        }
        try await client.subscribe(topics.modelDelta, qos: .atLeastOnce) { [self] _, payload in
            self.state.withLock { $0.deltaSizes.append(payload.count) }
        }
        try await client.subscribe(topics.ack("+"), qos: .atLeastOnce) { [self] _, payload in
            guard let ack = try? UpdateAck.decode(Array(payload)) else { return }
            self.state.withLock { $0.acks.append(ack) }
        }
        try await client.subscribe(topics.deviceStatuses, qos: .atLeastOnce) { [self] _, payload in
            guard let status = try? DeviceStatus.decode(Array(payload)) else { return }
            self.state.withLock {
                $0.statuses[status.device] = status
                $0.states[status.device, default: []].append(status.state)
                if let round = status.round, let accuracy = status.metrics?["holdout_accuracy"] {
                    $0.accuracy[round, default: [:]][status.device] = accuracy
                    if $0.firstAccuracy[status.device] == nil { $0.firstAccuracy[status.device] = accuracy }
                }
            }
        }
        try await client.subscribe(topics.prefix + "/dev/+/summary", qos: .atMostOnce) { [self] topic, payload in
            let device = String(cString: topic).split(separator: "/").dropLast().last.map(String.init) ?? ""
            guard let json = try? JSONSerialization.jsonObject(with: Data(payload)) as? [String: Any],
                let channels = json["channels"] as? [[String: Any]], channels.count == 7,
                let count = channels[0]["count"] as? Int
            else { return }
            self.state.withLock { $0.summaries[device, default: 0] += count }
        }
    }

    func raw(_ topic: String) -> [[UInt8]] { state.withLock { $0.raw[topic] ?? [] } }
    /// The newest round whose metrics arrived (0: none).
    func lastRound() -> UInt32 { state.withLock { $0.metrics.keys.max() ?? 0 } }
    /// Forgets the rounds seen (metrics, announcements), for a federation that starts its rounds again.
    func forgetRounds() {
        state.withLock {
            $0.metrics = [:]
            $0.rounds = []
            $0.announcements = [:]
        }
    }
    func updates(_ device: String) -> [[UInt8]] { state.withLock { $0.updates[device] ?? [] } }
    func states(_ device: String) -> [String] { state.withLock { $0.states[device] ?? [] } }
    func announcement(_ round: UInt32) -> RoundAnnouncement? { state.withLock { $0.announcements[round] } }
    func metrics(_ round: UInt32) -> RoundMetrics? { state.withLock { $0.metrics[round] } }
    func senders(round: UInt32) -> Set<String> { state.withLock { $0.sent[round] ?? [] } }
    func announced(_ round: UInt32) -> Bool { state.withLock { $0.rounds.contains(round) } }
    func acks(round: UInt32) -> [UpdateAck] { state.withLock { $0.acks.filter { $0.round == round } } }
    func acks(device: String) -> [UpdateAck] { state.withLock { $0.acks.filter { $0.device == device } } }
    func status(_ device: String) -> DeviceStatus? { state.withLock { $0.statuses[device] } }
    func summaryFrames(_ device: String) -> Int { state.withLock { $0.summaries[device] ?? 0 } }

    /// Mean hold-out accuracy the devices reported for the global model of `round`, with how many reported.
    func meanAccuracy(model round: UInt32) -> (mean: Double, devices: Int)? {
        state.withLock { state in
            guard let values = state.accuracy[round], !values.isEmpty else { return nil }
            return (values.values.reduce(0, +) / Double(values.count), values.count)
        }
    }

    /// Mean of the first hold-out accuracy each device reported, with how many reported.
    func meanFirstAccuracy() -> (mean: Double, devices: Int)? {
        state.withLock { state in
            guard !state.firstAccuracy.isEmpty else { return nil }
            return (
                state.firstAccuracy.values.reduce(0, +) / Double(state.firstAccuracy.count), state.firstAccuracy.count
            )
        }
    }

    func close() async { await client.disconnect() }
}

/// Runs `body` with a fleet on `broker`, and stops the fleet whatever happens; returns the exit statuses.
@discardableResult
func withFleet(
    _ broker: MosquittoBroker, _ setup: Fleet.Setup = Fleet.Setup(), _ body: (Fleet) async throws -> Void
) async throws -> [String: Int32?] {
    let fleet = try await Fleet(broker: broker, setup: setup)
    do { try await body(fleet) } catch {
        _ = await fleet.stop()
        throw error
    }
    return await fleet.stop()
}
