/// The MQTT protocol version spoken to the broker.
public enum MQTTProtocolVersion: Sendable, Hashable {
    /// MQTT 3.1.1: understood by every broker.
    case v311
    /// MQTT 5: adds message expiry, user properties, reason codes and shared subscriptions by spec.
    case v5
}

/// The quality-of-service level of a publication or subscription.
public enum MQTTQoS: Int32, Sendable, Hashable, CaseIterable {
    /// At most once: fire and forget.
    case atMostOnce = 0
    /// At least once: acknowledged, may be redelivered.
    case atLeastOnce = 1
    /// Exactly once: a four-way handshake.
    case exactlyOnce = 2
}

/// Username and password sent in CONNECT.
public struct MQTTCredentials: Sendable, Hashable {
    /// The username.
    public var username: String
    /// The password, if the broker wants one.
    public var password: String?

    /// Creates credentials.
    public init(username: String, password: String?) {
        self.username = username
        self.password = password
    }
}

/// TLS settings. Certificate and host-name verification are always on unless explicitly disabled for a test.
public struct MQTTTLSConfiguration: Sendable, Hashable {
    /// PEM file with the certificate authorities the broker's certificate must chain to.
    public var caFile: String
    /// PEM client certificate, for brokers that require one.
    public var certificateFile: String?
    /// PEM private key of the client certificate.
    public var keyFile: String?
    /// Check that the broker's certificate names the host connected to. Turn off only for tests.
    public var verifyHostname: Bool

    /// Creates a TLS configuration.
    public init(caFile: String, certificateFile: String? = nil, keyFile: String? = nil, verifyHostname: Bool = true) {
        self.caFile = caFile
        self.certificateFile = certificateFile
        self.keyFile = keyFile
        self.verifyHostname = verifyHostname
    }
}

/// The message the broker publishes for a client that disappears without disconnecting (last will).
public struct MQTTWill: Sendable, Hashable {
    /// Topic of the will.
    public var topic: String
    /// Payload of the will.
    public var payload: [UInt8]
    /// Delivery level.
    public var qos: MQTTQoS
    /// Whether the broker retains the will once published.
    public var retain: Bool

    /// Creates a will.
    public init(topic: String, payload: [UInt8], qos: MQTTQoS = .atLeastOnce, retain: Bool = false) {
        self.topic = topic
        self.payload = payload
        self.qos = qos
        self.retain = retain
    }
}

/// How the client waits between reconnection attempts: exponential backoff from `minDelay` to `maxDelay`, with
/// random jitter so a fleet that lost the same broker does not come back all at once.
public struct MQTTReconnectPolicy: Sendable, Hashable {
    /// The first delay.
    public var minDelay: Duration
    /// The largest delay.
    public var maxDelay: Duration
    /// The fraction of each delay that is random, 0 (none) … 1 (anywhere between zero and the delay).
    public var jitter: Double

    /// Creates a policy.
    public init(minDelay: Duration = .milliseconds(100), maxDelay: Duration = .seconds(30), jitter: Double = 0.5) {
        precondition(minDelay > .zero && maxDelay >= minDelay, "need 0 < minDelay <= maxDelay")
        precondition((0...1).contains(jitter), "jitter must be within 0...1")
        self.minDelay = minDelay
        self.maxDelay = maxDelay
        self.jitter = jitter
    }

    /// The delay before reconnection attempt `attempt` (0-based), given a uniform random draw `unit` in 0..<1.
    public func delay(attempt: Int, unit: Double) -> Duration {
        let doublings = min(attempt, 62)
        let base = min(maxDelay, minDelay * Double(1 << min(doublings, 40)))
        let fixedPart = base * (1 - jitter)
        return fixedPart + base * (jitter * unit)
    }
}

/// Everything needed to connect a client.
public struct MQTTConfiguration: Sendable {
    /// Broker host name or address.
    public var host: String
    /// Broker port.
    public var port: Int
    /// Client identifier; must be unique per broker. Required for a persistent session.
    public var clientID: String
    /// Start a clean session (true), or resume the broker-side session with its subscriptions and queued
    /// messages (false).
    public var cleanSession: Bool
    /// Keepalive interval; the broker drops a client silent for 1.5× this.
    public var keepAlive: Duration
    /// Username and password, if the broker requires them.
    public var credentials: MQTTCredentials?
    /// TLS, if the listener uses it.
    public var tls: MQTTTLSConfiguration?
    /// Protocol version.
    public var protocolVersion: MQTTProtocolVersion
    /// Last will, published by the broker if this client vanishes.
    public var will: MQTTWill?
    /// Backoff between reconnection attempts.
    public var reconnect: MQTTReconnectPolicy
    /// Most publications handed to the library and not yet completed (acknowledged for QoS 1/2, written for
    /// QoS 0). Publishers wait when it is reached; never above 65,535, where MQTT packet ids would collide.
    public var maxInFlight: Int
    /// How long `connect()` waits for the broker's CONNACK.
    public var connectTimeout: Duration
    /// For MQTT 5: the largest packet this client accepts; the broker drops larger messages for it.
    public var maximumIncomingPacketSize: Int?
    /// Disable Nagle's algorithm: lower latency for small messages.
    public var tcpNoDelay: Bool

    /// Creates a configuration with defaults suited to a device on a local broker.
    public init(
        host: String = "127.0.0.1",
        port: Int = 1883,
        clientID: String,
        cleanSession: Bool = true,
        keepAlive: Duration = .seconds(30),
        credentials: MQTTCredentials? = nil,
        tls: MQTTTLSConfiguration? = nil,
        protocolVersion: MQTTProtocolVersion = .v311,
        will: MQTTWill? = nil,
        reconnect: MQTTReconnectPolicy = MQTTReconnectPolicy(),
        maxInFlight: Int = 1_000,
        connectTimeout: Duration = .seconds(10),
        maximumIncomingPacketSize: Int? = nil,
        tcpNoDelay: Bool = true
    ) {
        self.host = host
        self.port = port
        self.clientID = clientID
        self.cleanSession = cleanSession
        self.keepAlive = keepAlive
        self.credentials = credentials
        self.tls = tls
        self.protocolVersion = protocolVersion
        self.will = will
        self.reconnect = reconnect
        self.maxInFlight = maxInFlight
        self.connectTimeout = connectTimeout
        self.maximumIncomingPacketSize = maximumIncomingPacketSize
        self.tcpNoDelay = tcpNoDelay
    }
}
