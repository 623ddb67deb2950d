import Federation
import Foundation
import Glibc
import MQTT
import Synchronization
import TributaryTestSupport
import Trust
import UpdateCodec

/// The `tributary-aggregator` binary, next to the test bundle.
let aggregatorBinary = builtExecutable("tributary-aggregator")

/// A YAML configuration for a test aggregator.
func aggregatorYAML(
    port: Int, stateDir: String, httpPort: Int = 0, minParticipants: Int, duration: Double = 60,
    role: String = "single",
    shardID: String? = nil, shards: [String] = [], clientID: String = "tributary-aggregator", dimension: Int = 7,
    strategy: String = "fedavg"
) -> String {
    """
    insecure: true
    broker: {host: 127.0.0.1, port: \(port), client_id: \(clientID)}
    state_dir: \(stateDir)
    http: {host: 127.0.0.1, port: \(httpPort)}
    task:
      task: t1
      model: {head: linear, inputs: \(dimension)}
      data: {stream: imu, channels: [\((0..<dimension).map(String.init).joined(separator: ", "))], window_frames: 10, hop_frames: 5, features: [mean]}
      codec: {k_fraction: 1, values: float32}
    rounds: {duration_s: \(duration), min_participants: \(minParticipants)}
    strategy: {kind: \(strategy)}
    hierarchy: {role: \(role), shard_id: \(shardID ?? "null"), shards: [\(shards.joined(separator: ", "))], grace_s: 2}
    """
}

/// A running aggregator process (started with posix_spawn, so SIGTERM reaches it).
final class AggregatorProcess: Sendable {
    let process: ChildProcess
    let log: String

    init(yaml: String, directory: String, name: String = "aggregator") throws {
        let config = directory + "/\(name).yaml"
        try yaml.write(toFile: config, atomically: true, encoding: .utf8)
        log = directory + "/\(name).log"
        process = try ChildProcess(aggregatorBinary, ["--config", config], standardOutput: log)
    }

    var output: String { (try? String(contentsOfFile: log, encoding: .utf8)) ?? "" }

    func waitFor(_ text: String, timeout: Duration = .seconds(20)) async -> Bool {
        await eventually(timeout: timeout) { self.output.contains(text) }
    }
}

/// A device written in the test: takes the retained round and model, sends updates, waits for acknowledgements,
/// and resends what is not acknowledged.
final class TestDevice: Sendable {
    let id: String
    let client: MQTTClient
    let acks = Mutex<[UInt32: UpdateAck]>([:])
    let topics = Topics(task: "t1")

    init(_ id: String, broker: MosquittoBroker) async throws {
        self.id = id
        client = try await broker.connectedClient("device-\(id)")
        try await client.subscribe(topics.ack(id), qos: .atLeastOnce) { [self] _, payload in
            guard let ack = try? UpdateAck.decode(Array(payload)) else { return }
            self.acks.withLock { $0[ack.round] = ack }
        }
    }

    func ack(_ round: UInt32) -> UpdateAck? { acks.withLock { $0[round] } }

    /// Publishes this device's status (retained), as an agent does: a device the aggregator has seen online
    /// is one it knows, and answers.
    func announce(_ state: String, signedBy key: SigningKey? = nil) async throws {
        let json = DeviceStatus(device: id, state: state).json
        try await client.publish(
            topics.deviceStatus(id), payload: key.map { SignedJSON.seal(json, with: $0) } ?? json, qos: .atLeastOnce,
            retain: true)
    }

    /// Sends an update and resends it every `every` until it is acknowledged; returns the acknowledgement.
    func send(_ payload: [UInt8], round: UInt32, every: Duration = .seconds(2), timeout: Duration = .seconds(60))
        async throws -> (ack: UpdateAck?, sends: Int)
    {
        var sends = 0
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            try await client.publish(topics.update(id), payload: payload, qos: .atLeastOnce)
            sends += 1
            if await eventually(timeout: every, { self.ack(round) != nil }) { return (ack(round), sends) }
        }
        return (nil, sends)
    }

    func close() async { await client.disconnect() }
}

/// Reads retained control messages of task t1.
final class Observer: Sendable {
    let client: MQTTClient
    let latest = Mutex<[String: [UInt8]]>([:])

    init(broker: MosquittoBroker) async throws {
        client = try await broker.connectedClient("observer")
        for suffix in ["round", "model", "metrics", "spec"] {
            try await client.subscribe("tributary/v1/fl/t1/\(suffix)", qos: .atLeastOnce) { [self] topic, payload in
                self.latest.withLock { $0[String(cString: topic)] = Array(payload) }
            }
        }
    }

    func round() -> RoundAnnouncement? {
        latest.withLock { $0["tributary/v1/fl/t1/round"] }.flatMap { try? RoundAnnouncement.decode($0) }
    }

    func metrics() -> RoundMetrics? {
        latest.withLock { $0["tributary/v1/fl/t1/metrics"] }.flatMap { try? RoundMetrics.decode($0) }
    }

    func model() -> [Float]? {
        latest.withLock { $0["tributary/v1/fl/t1/model"] }.flatMap { try? modelParameters($0).parameters }
    }

    /// Waits for the announcement of `round`.
    func waitForRound(_ round: UInt32, timeout: Duration = .seconds(30)) async -> RoundAnnouncement? {
        _ = await eventually(timeout: timeout) { (self.round()?.round ?? 0) >= round }
        return self.round().flatMap { $0.round == round ? $0 : nil }
    }

    func close() async { await client.disconnect() }
}

/// Calls `body` with 127.0.0.1:`port` as a `sockaddr` (port 0: any).
func withLoopbackAddress<T>(port: Int, _ body: (UnsafePointer<sockaddr>, socklen_t) -> T) -> T {
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    return withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
}

/// A TCP connection to 127.0.0.1:`port` (its descriptor), or nil.
func connectLoopback(port: Int) -> Int32? {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return nil }
    guard withLoopbackAddress(port: port, { connect(fd, $0, $1) }) == 0 else {
        close(fd)
        return nil
    }
    return fd
}

/// A socket listening on 127.0.0.1:`port` (0: a free one): its descriptor and port, or nil.
func listenLoopback(port: Int = 0) -> (fd: Int32, port: Int)? {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return nil }
    guard withLoopbackAddress(port: port, { bind(fd, $0, $1) }) == 0, listen(fd, 4) == 0 else {
        close(fd)
        return nil
    }
    var address = sockaddr_in()
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    return (fd, Int(UInt16(bigEndian: address.sin_port)))
}

/// `GET path` on a loopback HTTP port: (status code, body).
func httpGet(port: Int, path: String) -> (Int, String)? {
    guard let fd = connectLoopback(port: port) else { return nil }
    defer { close(fd) }
    let request = "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    _ = request.withCString { send(fd, $0, strlen($0), 0) }
    var response = [UInt8]()
    var buffer = [UInt8](repeating: 0, count: 65_536)
    while true {
        let n = recv(fd, &buffer, buffer.count, 0)
        if n <= 0 { break }
        response += buffer[0..<n]
    }
    let text = String(decoding: response, as: UTF8.self)
    guard let statusLine = text.split(separator: "\r\n").first, let code = Int(statusLine.split(separator: " ")[1]),
        let bodyStart = text.range(of: "\r\n\r\n")
    else { return nil }
    return (code, String(text[bodyStart.upperBound...]))
}
