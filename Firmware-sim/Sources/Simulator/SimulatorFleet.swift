public import BrokerConnection
public import Logging
public import MQTT
public import ServiceLifecycle
public import SimulatorCore
import Synchronization

/// The running simulator: one MQTT connection per device (or one for all: a broker that takes the client's
/// certificate as its identity gives every connection of one certificate the same client id), each device
/// publishing its batches on its own schedule from a real clock. A `Service`: it stops cleanly on graceful shutdown (SIGTERM), disconnecting every
/// device (so the broker does not publish wills).
public final class SimulatorFleet: Service, Sendable {
    /// Totals across the fleet.
    public struct Totals: Sendable, Hashable {
        /// Batches published.
        public var batches = 0
        /// Frames published.
        public var frames = 0
        /// Bytes of payload published.
        public var bytes = 0
        /// Batches lost to simulated faults.
        public var lost = 0
        /// Publish errors (broker unreachable and the like).
        public var errors = 0
    }

    /// The profile.
    public let profile: SimProfile
    let broker: BrokerSettings
    let logger: Logger
    let duration: Duration?
    let counters = Mutex(Totals())

    let sharedConnection: Bool

    /// Creates a fleet. With `duration`, it stops by itself after that long; with `sharedConnection`, every
    /// device publishes over one connection (a provisioned publisher: one certificate, one MQTT identity).
    public init(
        profile: SimProfile, broker: BrokerSettings, duration: Duration? = nil, sharedConnection: Bool = false,
        logger: Logger
    ) {
        self.profile = profile
        self.broker = broker
        self.duration = duration
        self.sharedConnection = sharedConnection
        self.logger = logger
    }

    /// Totals so far.
    public var totals: Totals { counters.withLock { $0 } }

    /// Connects every device and publishes until the duration ends or shutdown is requested.
    public func run() async throws {
        let qos = MQTTQoS(rawValue: Int32(profile.qos)) ?? .atMostOnce
        logger.info(
            "simulator starting",
            metadata: [
                "devices": "\(profile.devices)", "sensor": "\(profile.sensor.rawValue)", "rate_hz": "\(profile.rateHz)",
                "batch_frames": "\(profile.batchFrames)", "broker": "\(broker.address)",
            ])
        var clients: [MQTTClient] = []
        for index in 0..<(sharedConnection ? 1 : profile.devices) {
            let id = sharedConnection ? "tributary-sim" : profile.deviceID(profile.firstDevice + index)
            // Each device is its own client: its id, unless the settings fix one (they cannot, for many).
            var perDevice = broker
            perDevice.clientID = nil
            var configuration = try perDevice.mqttConfiguration(clientID: id, cleanSession: true)
            configuration.maxInFlight = 256
            var quiet = logger
            quiet.logLevel = .warning
            let client = try MQTTClient(configuration: configuration, logger: quiet)
            client.start()  // keeps reconnecting; QoS 0 batches made while offline are lost, as on a device
            clients.append(client)
        }
        // A device starts sampling once it is online (as firmware does after boot), or after 10 s regardless.
        let bootDeadline = ContinuousClock.now + .seconds(10)
        while clients.contains(where: { !$0.isConnected }) && ContinuousClock.now < bootDeadline {
            try? await Task.sleep(for: .milliseconds(10))
        }
        if clients.contains(where: { !$0.isConnected }) {
            logger.warning(
                "some devices are not connected yet; their first batches may be lost",
                metadata: [
                    "offline": "\(clients.filter { !$0.isConnected }.count)"
                ])
        }
        let deadline = duration.map { ContinuousClock.now + $0 }
        let devices = sharedConnection ? Array(repeating: clients[0], count: profile.devices) : clients
        await cancelWhenGracefulShutdown {
            await withTaskGroup(of: Void.self) { group in
                for (index, client) in devices.enumerated() {
                    group.addTask { await self.runDevice(index: index, client: client, qos: qos, deadline: deadline) }
                }
                group.addTask { await self.report(deadline: deadline) }
            }
        }
        for client in clients { await client.disconnect() }
        let t = totals
        logger.info(
            "simulator stopped",
            metadata: [
                "batches": "\(t.batches)", "frames": "\(t.frames)", "lost": "\(t.lost)", "errors": "\(t.errors)",
            ])
    }

    func runDevice(index: Int, client: MQTTClient, qos: MQTTQoS, deadline: ContinuousClock.Instant?) async {
        var device = profile.makeDevice(profile.firstDevice + index)
        let topic = profile.topic(device: device.id)
        let clock = ContinuousClock()
        // Spread devices over one batch period so they do not all publish at the same instant.
        let batch = Duration.seconds(device.batchDuration)
        var due = clock.now + batch * (Double(index) / Double(max(1, profile.devices)))
        while !Task.isCancelled {
            if let deadline, due > deadline { break }
            do { try await clock.sleep(until: due) } catch { break }
            due += batch
            guard let output = device.nextBatch() else {
                counters.withLock { $0.lost += 1 }
                continue
            }
            do {
                try await client.publish(topic, payload: output.payload, qos: qos)
                counters.withLock {
                    $0.batches += 1
                    $0.frames += output.frames
                    $0.bytes += output.payload.count
                }
            } catch {
                counters.withLock { $0.errors += 1 }
            }
        }
    }

    func report(deadline: ContinuousClock.Instant?) async {
        var last = totals
        let clock = ContinuousClock()
        while !Task.isCancelled {
            if let deadline, clock.now > deadline { return }
            do { try await clock.sleep(for: .seconds(5)) } catch { return }
            let now = totals
            logger.info(
                "simulator progress",
                metadata: [
                    "frames_per_s": "\((now.frames - last.frames) / 5)", "batches": "\(now.batches)",
                    "lost": "\(now.lost)", "errors": "\(now.errors)",
                ])
            last = now
        }
    }
}
