public import BrokerConnection
import Glibc
public import Logging
public import MQTT
public import ServiceLifecycle
import Synchronization

extension BrokerSettings {
    /// Connects a client, turning failures into a ``ReplayError`` of kind `.broker`.
    public func connect(clientID: String, logger: Logger, maxInFlight: Int = 1_000) async throws(ReplayError)
        -> MQTTClient
    {
        var configuration: MQTTConfiguration
        do { configuration = try mqttConfiguration(clientID: clientID, cleanSession: true) } catch {
            throw ReplayError(.usage, "broker: \(error)")
        }
        configuration.maxInFlight = maxInFlight
        configuration.connectTimeout = .seconds(5)
        do {
            let client = try MQTTClient(configuration: configuration, logger: logger)
            try await client.connect()
            return client
        } catch {
            throw ReplayError(.broker, "cannot connect to the broker at \(host):\(port): \(error)")
        }
    }
}

/// `record` as a service: connects, subscribes, flushes every `flushInterval`, and closes the files cleanly
/// when the duration ends or on graceful shutdown (SIGINT/SIGTERM).
public final class RecordSession: Service, Sendable {
    let recorder: Recorder
    let broker: BrokerSettings
    let duration: Duration?
    let flushInterval: Duration
    let logger: Logger
    let progress: @Sendable (RecordStats, Duration) -> Void
    let outcome = Mutex<Result<RecordStats, ReplayError>?>(nil)

    /// Creates a session.
    public init(
        recorder: Recorder, broker: BrokerSettings, duration: Duration?, flushInterval: Duration, logger: Logger,
        progress: @escaping @Sendable (RecordStats, Duration) -> Void = { _, _ in }
    ) {
        self.recorder = recorder
        self.broker = broker
        self.duration = duration
        self.flushInterval = flushInterval
        self.logger = logger
        self.progress = progress
    }

    /// How it ended (nil while running).
    public var result: Result<RecordStats, ReplayError>? { outcome.withLock { $0 } }

    /// Runs until the duration ends or shutdown.
    public func run() async throws {
        let client: MQTTClient
        do {
            client = try await broker.connect(clientID: "tributary-replay-record-\(Glibc.getpid())", logger: logger)
            try await recorder.attach(to: client)
        } catch let error as ReplayError {
            outcome.withLock { $0 = .failure(error) }
            return
        } catch {
            outcome.withLock { $0 = .failure(ReplayError(.broker, "subscribing: \(error)")) }
            return
        }
        logger.info("recording \(recorder.options.filters.joined(separator: " ")) from \(broker.address)")
        let started = ContinuousClock.now
        let deadline = duration.map { started + $0 }
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                var wake = ContinuousClock.now + self.flushInterval
                if let deadline { wake = min(wake, deadline) }
                try? await Task.sleep(until: wake, clock: .continuous)
                do { try self.recorder.flush() } catch {
                    self.logger.error("flush failed: \(error)")
                }
                self.progress(self.recorder.stats, ContinuousClock.now - started)
                if let deadline, ContinuousClock.now >= deadline { break }
            }
        }
        await client.disconnect()
        do {
            let stats = try recorder.finish()
            outcome.withLock { $0 = .success(stats) }
        } catch {
            outcome.withLock { $0 = .failure(error) }
        }
    }
}

/// `play` as a service: connects, plays, disconnects; a graceful shutdown stops playback between batches.
public final class PlaySession: Service, @unchecked Sendable {
    // The player is used by `run` only, one call at a time.
    let player: Player
    let broker: BrokerSettings
    let logger: Logger
    let progress: @Sendable (PlaybackStats) -> Void
    let outcome = Mutex<Result<PlaybackStats, ReplayError>?>(nil)

    /// Creates a session.
    public init(
        player: Player, broker: BrokerSettings, logger: Logger,
        progress: @escaping @Sendable (PlaybackStats) -> Void = { _ in }
    ) {
        self.player = player
        self.broker = broker
        self.logger = logger
        self.progress = progress
    }

    /// How it ended (nil while running).
    public var result: Result<PlaybackStats, ReplayError>? { outcome.withLock { $0 } }

    /// Plays until done or shutdown.
    public func run() async throws {
        let client: MQTTClient
        do {
            client = try await broker.connect(clientID: "tributary-replay-play-\(Glibc.getpid())", logger: logger)
        } catch {
            outcome.withLock { $0 = .failure(error) }
            return
        }
        let result = await cancelWhenGracefulShutdown {
            do throws(ReplayError) {
                return Result<PlaybackStats, ReplayError>.success(
                    try await self.player.run(client: client, clock: ContinuousClock(), progress: self.progress))
            } catch {
                return .failure(error)
            }
        }
        await client.disconnect()
        outcome.withLock { $0 = result }
    }
}
