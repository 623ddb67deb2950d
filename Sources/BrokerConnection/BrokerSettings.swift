/// How every Tributary program reaches the broker: where it is, how the connection is protected, who the client
/// says it is. One type for the agent, the aggregator, the replay tool, the simulator and the benchmarks.
///
/// Invalid combinations cannot be expressed: a client certificate exists only inside ``TLS`` (mutual TLS without
/// TLS is not a value), a password only with a username, and a password is never a field of the configuration:
/// it is read from a file or an environment variable when the client connects (see ``PasswordSource``).
public struct BrokerSettings: Sendable, Hashable {
    /// Host name or address.
    public var host: String
    /// TCP port, 1…65535.
    public var port: Int
    /// MQTT client id; nil: the program's own (`agent-{device}`, `tributary-aggregator`, …). Unique per broker.
    public var clientID: String?
    /// Keepalive interval: the broker drops a client silent for 1.5× this.
    public var keepAlive: Duration
    /// A clean session (true) or one the broker keeps with its subscriptions and queued messages (false);
    /// nil: the program's own (persistent for agents and aggregators).
    public var cleanSession: Bool?
    /// Plain TCP or TLS.
    public var transport: Transport
    /// Anonymous, or a username with an optional password.
    public var authentication: Authentication

    /// Plain TCP, or TLS with its settings.
    public enum Transport: Sendable, Hashable {
        /// Unencrypted: development brokers on loopback only.
        case plaintext
        /// TLS, with the broker verified against a CA and, optionally, this client's own certificate.
        case tls(TLS)
    }

    /// TLS settings: the CA the broker's certificate must chain to, and an optional client identity.
    public struct TLS: Sendable, Hashable {
        /// PEM file of the certificate authorities.
        public var caFile: String
        /// This client's certificate and key, for mutual TLS.
        public var identity: Identity?
        /// Check that the broker's certificate names the host connected to (turn off only in tests).
        public var verifyHostname: Bool

        /// TLS settings.
        public init(caFile: String, identity: Identity? = nil, verifyHostname: Bool = true) {
            self.caFile = caFile
            self.identity = identity
            self.verifyHostname = verifyHostname
        }
    }

    /// A client certificate and its private key: always both.
    public struct Identity: Sendable, Hashable {
        /// PEM certificate file.
        public var certificateFile: String
        /// PEM private key file.
        public var keyFile: String

        /// An identity.
        public init(certificateFile: String, keyFile: String) {
            self.certificateFile = certificateFile
            self.keyFile = keyFile
        }
    }

    /// Who the client says it is in CONNECT.
    public enum Authentication: Sendable, Hashable {
        /// No username.
        case anonymous
        /// A username, and where its password comes from.
        case username(String, password: PasswordSource)
    }

    /// Where a password is read from, when the client connects (never stored in a configuration file).
    public enum PasswordSource: Sendable, Hashable {
        /// No password.
        case none
        /// An environment variable's value.
        case environment(String)
        /// The first line of a file (a mounted secret).
        case file(String)
    }

    /// The environment variable a password is read from when nothing else is said.
    public static let defaultPasswordVariable = "TRIBUTARY_MQTT_PASSWORD"

    /// Settings for a broker; by default a local development broker: 127.0.0.1:1883, plain TCP, anonymous.
    public init(
        host: String = "127.0.0.1", port: Int = 1883, clientID: String? = nil, keepAlive: Duration = .seconds(30),
        cleanSession: Bool? = nil, transport: Transport = .plaintext, authentication: Authentication = .anonymous
    ) {
        self.host = host
        self.port = port
        self.clientID = clientID
        self.keepAlive = keepAlive
        self.cleanSession = cleanSession
        self.transport = transport
        self.authentication = authentication
    }

    /// The TLS settings, if the transport is TLS.
    public var tls: TLS? {
        if case .tls(let tls) = transport { tls } else { nil }
    }

    /// The username, if there is one.
    public var username: String? {
        if case .username(let name, _) = authentication { name } else { nil }
    }

    /// `host:port`, for logs.
    public var address: String { "\(host):\(port)" }
}
