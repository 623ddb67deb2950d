internal import CMosquitto
import Glibc
public import Logging

/// An MQTT client over libmosquitto, with Swift concurrency on top.
///
/// - Control traffic arrives through ``messages``, an `AsyncSequence` (one consumer).
/// - High-rate topics get a ``MQTTHotPathHandler`` through ``subscribe(_:qos:hotPath:)``: called on the network
///   thread with libmosquitto's own payload buffer, no copy and no task hop.
/// - The connection is kept by a dedicated network thread that reconnects with jittered exponential backoff and
///   renews subscriptions when the broker lost the session; ``events`` reports every change.
/// - Publications are bounded by ``MQTTConfiguration/maxInFlight``: a publisher waits for a slot instead of
///   piling up messages in memory.
public final class MQTTClient: Sendable {
    let core: ClientCore

    /// Messages whose topics have no hot-path handler, in arrival order. Buffered without bound: keep consuming.
    public let messages: AsyncStream<MQTTMessage>
    /// Connection changes: connected, disconnected (with the reason), reconnecting.
    public let events: AsyncStream<MQTTConnectionEvent>

    /// The configuration the client was created with.
    public var configuration: MQTTConfiguration { core.configuration }
    /// Whether the broker has accepted the current connection.
    public var isConnected: Bool { core.isConnected.load(ordering: .relaxed) }
    /// Publications currently in flight.
    public var inFlight: Int { core.window.inFlight }
    /// Messages received since creation (both delivery paths).
    public var receivedCount: Int { core.receivedCount.load(ordering: .relaxed) }
    /// Reconnection attempts since creation.
    public var reconnectAttempts: Int { core.reconnectCount.load(ordering: .relaxed) }
    /// The libmosquitto version the process is linked against.
    public static var libraryVersion: String { MosquittoLibrary.version }

    /// Creates a client. Nothing is sent until ``connect()`` or ``start()``.
    public init(
        configuration: MQTTConfiguration,
        logger: Logger = Logger(label: "tributary.mqtt")
    ) throws(MQTTError) {
        let (messages, messageSink) = AsyncStream.makeStream(of: MQTTMessage.self, bufferingPolicy: .unbounded)
        let (events, eventSink) = AsyncStream.makeStream(
            of: MQTTConnectionEvent.self,
            bufferingPolicy: .bufferingNewest(256))
        var logger = logger
        logger[metadataKey: "mqtt_client"] = "\(configuration.clientID)"
        self.messages = messages
        self.events = events
        self.core = try ClientCore(
            configuration: configuration, logger: logger, messageSink: messageSink,
            eventSink: eventSink)
    }

    deinit {
        // The network thread keeps the core alive; ask it to leave.
        if core.state.withLock({ $0.threadRunning }) {
            core.stopRequested.store(true, ordering: .sequentiallyConsistent)
            mosquitto_disconnect(core.handle)
        }
        core.messageSink.finish()
        core.eventSink.finish()
    }

    /// Connects and waits for the broker's acceptance. A failed first attempt throws (see
    /// ``MQTTError/isRetriable``) and leaves the client ready to try again; once connected, the client reconnects
    /// on its own until ``disconnect()``.
    public func connect() async throws(MQTTError) {
        do {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let alreadyRunning = core.state.withLock { s -> Bool in
                    if s.threadRunning { return true }
                    s.firstConnect = continuation
                    return false
                }
                if alreadyRunning {
                    continuation.resume(
                        throwing: MQTTError(
                            code: .invalidArgument, message: "already started",
                            function: "connect", isRetriable: false))
                    return
                }
                core.startNetworkThread(failFast: true)
            }
        } catch let error as MQTTError {
            await core.waitForNetworkThread()
            throw error
        } catch {
            throw MQTTError(code: .library, message: "\(error)", function: "connect", isRetriable: false)
        }
    }

    /// Starts connecting in the background and keeps trying, with backoff, until ``disconnect()``. For services
    /// that must run while the broker is away: watch ``events`` or ``isConnected``.
    public func start() {
        core.startNetworkThread(failFast: false)
    }

    /// Waits until every publication handed to the client has completed (acknowledged for QoS 1/2, written for
    /// QoS 0), or `timeout` passed; returns whether everything completed. Call it before ``disconnect()`` when
    /// what was published must reach the broker.
    @discardableResult
    public func drain(timeout: Duration = .seconds(30)) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while core.window.inFlight > 0 {
            if ContinuousClock.now >= deadline || Task.isCancelled { return false }
            try? await Task.sleep(for: .milliseconds(1))
        }
        return true
    }

    /// Sends DISCONNECT (so the broker does not publish the will), stops reconnecting and waits for the network
    /// thread to finish. Publications still in flight are failed with ``MQTTError/Code/shutdown``.
    public func disconnect() async {
        core.stopRequested.store(true, ordering: .sequentiallyConsistent)
        mosquitto_disconnect_v5(core.handle, 0, nil)
        await core.waitForNetworkThread()
    }

    /// Closes the connection abruptly, as if the process died: no DISCONNECT, so the broker publishes the will.
    /// Meant for tests and fault injection.
    public func abort() async {
        core.stopRequested.store(true, ordering: .sequentiallyConsistent)
        let socket = mosquitto_socket(core.handle)
        if socket >= 0 { shutdown(socket, Int32(SHUT_RDWR)) }
        await core.waitForNetworkThread()
    }
}
