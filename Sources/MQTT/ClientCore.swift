internal import CMosquitto
import Logging
import Synchronization

/// Owns the libmosquitto handle and everything its callbacks touch. Lives as long as the client or its network
/// thread, whichever is longer (the thread holds a strong reference, released when it exits).
///
/// `@unchecked Sendable`: the `mosquitto` handle is used from the network thread (loop, callbacks) and from
/// callers (publish, subscribe); libmosquitto is built with threading and documents those calls as thread safe
/// once `mosquitto_threaded_set` is on. Every Swift-side mutable field is behind a `Mutex` or an `Atomic`.
final class ClientCore: @unchecked Sendable {
    let handle: OpaquePointer
    let configuration: MQTTConfiguration
    let logger: Logger
    let window: PublishWindow
    let subscribeReplies = PendingReplies<[Int32]>()
    let unsubscribeReplies = PendingReplies<Void>()
    let messageSink: AsyncStream<MQTTMessage>.Continuation
    let eventSink: AsyncStream<MQTTConnectionEvent>.Continuation

    /// Set when the owner wants the network thread to finish.
    let stopRequested = Atomic<Bool>(false)
    /// True between a successful CONNACK and the next disconnect.
    let isConnected = Atomic<Bool>(false)
    /// Counters for logs and metrics.
    let receivedCount = Atomic<Int>(0)
    let reconnectCount = Atomic<Int>(0)
    /// Written by the network thread only.
    var selectLimitReported = false
    /// Bumped (after the change, under the state lock) whenever the hot-path table changes.
    let routesVersion = Atomic<Int>(0)
    /// The network thread's copy of the hot-path table and the version it was taken at. Network thread only:
    /// routing a message costs one atomic load, and the lock is taken only when the table has changed.
    var routeCache: (version: Int, routes: [(filter: String, handler: MQTTHotPathHandler)]) = (0, [])

    struct Subscription {
        var filter: String
        var qos: MQTTQoS
        /// The filter without a `$share/group/` prefix, for matching topics to hot-path handlers.
        var matchFilter: String
        var handler: MQTTHotPathHandler?
    }

    struct State {
        var subscriptions: [Subscription] = []
        var hotPath: [(filter: String, handler: MQTTHotPathHandler)] = []
        var firstConnect: CheckedContinuation<Void, any Error>?
        var firstConnectResult: Result<Void, MQTTError>?
        var threadRunning = false
        var threadExit: [CheckedContinuation<Void, Never>] = []
        /// SUBSCRIBE packets sent and not yet answered: their filter, and whether a caller waits (false: our own
        /// renewal). A connection lost before the answer may have lost the packet.
        var awaitingSubAck: [Int32: (filter: String, qos: MQTTQoS, caller: Bool)] = [:]
        /// Filters whose SUBSCRIBE went unanswered when the connection dropped: renewed on the next connection
        /// even if the broker kept the session.
        var renewOnConnect: Set<String> = []
    }

    let state = Mutex(State())

    init(
        configuration: MQTTConfiguration,
        logger: Logger,
        messageSink: AsyncStream<MQTTMessage>.Continuation,
        eventSink: AsyncStream<MQTTConnectionEvent>.Continuation
    ) throws(MQTTError) {
        MosquittoLibrary.initializeOnce()
        self.configuration = configuration
        self.logger = logger
        self.window = PublishWindow(limit: configuration.maxInFlight)
        self.messageSink = messageSink
        self.eventSink = eventSink
        guard let handle = mosquitto_new(configuration.clientID, configuration.cleanSession, nil) else {
            throw MQTTError(
                code: .invalidArgument,
                message: "mosquitto_new refused client id '\(configuration.clientID)'",
                function: "mosquitto_new", isRetriable: false)
        }
        self.handle = handle
        do {
            try configure()
        } catch {
            mosquitto_destroy(handle)
            throw error
        }
        // The context pointer is unretained: callbacks only run on the network thread, which holds a strong
        // reference for as long as it runs.
        mosquitto_user_data_set(handle, Unmanaged.passUnretained(self).toOpaque())
        installCallbacks()
    }

    deinit {
        mosquitto_destroy(handle)
    }

    private func configure() throws(MQTTError) {
        let c = configuration
        let version = c.protocolVersion == .v5 ? MQTT_PROTOCOL_V5 : MQTT_PROTOCOL_V311
        try mosquittoCall(
            "mosquitto_int_option",
            mosquitto_int_option(handle, MOSQ_OPT_PROTOCOL_VERSION, Int32(version)))
        try mosquittoCall(
            "mosquitto_int_option",
            mosquitto_int_option(handle, MOSQ_OPT_SEND_MAXIMUM, Int32(min(c.maxInFlight, 65_535))))
        try mosquittoCall(
            "mosquitto_int_option",
            mosquitto_int_option(handle, MOSQ_OPT_TCP_NODELAY, c.tcpNoDelay ? 1 : 0))
        try mosquittoCall("mosquitto_threaded_set", mosquitto_threaded_set(handle, true))
        if let credentials = c.credentials {
            try mosquittoCall(
                "mosquitto_username_pw_set",
                mosquitto_username_pw_set(handle, credentials.username, credentials.password))
        }
        if let tls = c.tls {
            try mosquittoCall(
                "mosquitto_tls_set",
                mosquitto_tls_set(handle, tls.caFile, nil, tls.certificateFile, tls.keyFile, nil))
            try mosquittoCall("mosquitto_tls_opts_set", mosquitto_tls_opts_set(handle, 1, nil, nil))
            try mosquittoCall("mosquitto_tls_insecure_set", mosquitto_tls_insecure_set(handle, !tls.verifyHostname))
        }
        if let will = c.will {
            let rc = will.payload.withUnsafeBytes { bytes in
                mosquitto_will_set(
                    handle, will.topic, Int32(bytes.count), bytes.baseAddress, will.qos.rawValue,
                    will.retain)
            }
            try mosquittoCall("mosquitto_will_set", rc)
        }
    }

    /// Delivers a received message: to the first hot-path handler whose filter matches, else to the stream.
    func route(_ message: UnsafePointer<mosquitto_message>, properties: OpaquePointer?) {
        receivedCount.add(1, ordering: .relaxed)
        let m = message.pointee
        let payload = UnsafeRawBufferPointer(start: m.payload, count: Int(m.payloadlen))
        if let topic = m.topic {
            let version = routesVersion.load(ordering: .acquiring)
            if version != routeCache.version {
                routeCache = (version, state.withLock { $0.hotPath })
            }
            for entry in routeCache.routes {
                var matches = false
                _ = entry.filter.withCString { mosquitto_topic_matches_sub($0, topic, &matches) }
                if matches {
                    entry.handler(topic, payload)
                    return
                }
            }
        }
        let copy = MQTTMessage(
            topic: m.topic.map { String(cString: $0) } ?? "",
            payload: [UInt8](payload),
            qos: MQTTQoS(rawValue: m.qos) ?? .atMostOnce,
            retain: m.retain,
            properties: MQTTProperties.read(properties)
        )
        messageSink.yield(copy)
    }
}

/// One-time process-wide libmosquitto initialisation.
enum MosquittoLibrary {
    private static let initialized: Bool = {
        mosquitto_lib_init()
        return true
    }()

    static func initializeOnce() { _ = initialized }

    /// The libmosquitto version, such as `2.0.11`.
    static var version: String {
        var major: Int32 = 0
        var minor: Int32 = 0
        var revision: Int32 = 0
        mosquitto_lib_version(&major, &minor, &revision)
        return "\(major).\(minor).\(revision)"
    }
}
