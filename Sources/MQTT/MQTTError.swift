/// An error from the MQTT client: a failed libmosquitto call, a refused connection, or a broker's negative
/// acknowledgement.
///
/// ``isRetriable`` tells a caller whether trying again later can help (the broker is down, the link dropped) or
/// not (bad credentials, a TLS certificate the client does not trust, an invalid topic).
public struct MQTTError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What went wrong. A struct over a private enum so new codes can be added without breaking users.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        fileprivate enum Value: Hashable, Sendable {
            case connectionFailed, connectionLost, notConnected, connectionRefused, notAuthorized, tls
            case protocolError, invalidArgument, payloadTooLarge, notSupported, timeout, rejected
            case inFlightLimitReached, shutdown, outOfMemory, library
        }

        fileprivate let value: Value

        /// The TCP connection (or DNS lookup) failed; the broker may be down or unreachable.
        public static let connectionFailed = Code(value: .connectionFailed)
        /// An established connection dropped (socket error, keepalive timeout).
        public static let connectionLost = Code(value: .connectionLost)
        /// The operation needs a connection and there is none.
        public static let notConnected = Code(value: .notConnected)
        /// The broker refused the connection for a reason other than authorization (protocol version, client id).
        public static let connectionRefused = Code(value: .connectionRefused)
        /// The broker refused the credentials, or the client is not allowed to do this.
        public static let notAuthorized = Code(value: .notAuthorized)
        /// TLS failed: handshake, certificate verification, or TLS configuration.
        public static let tls = Code(value: .tls)
        /// The peer broke the MQTT protocol.
        public static let protocolError = Code(value: .protocolError)
        /// A topic, option or value the library rejects.
        public static let invalidArgument = Code(value: .invalidArgument)
        /// A payload or packet over the allowed size.
        public static let payloadTooLarge = Code(value: .payloadTooLarge)
        /// The feature is not available (for example MQTT 5 properties on an MQTT 3.1.1 connection).
        public static let notSupported = Code(value: .notSupported)
        /// Waiting for the broker took longer than allowed.
        public static let timeout = Code(value: .timeout)
        /// The broker answered with a negative reason code (MQTT 5) or refused a subscription.
        public static let rejected = Code(value: .rejected)
        /// The bounded in-flight window is full and the caller asked not to wait.
        public static let inFlightLimitReached = Code(value: .inFlightLimitReached)
        /// The client was disconnected by its owner while the operation was pending.
        public static let shutdown = Code(value: .shutdown)
        /// libmosquitto could not allocate memory.
        public static let outOfMemory = Code(value: .outOfMemory)
        /// Any other libmosquitto failure.
        public static let library = Code(value: .library)

        /// A short, stable name for logs and metric labels.
        public var description: String {
            switch value {
            case .connectionFailed: "connection_failed"
            case .connectionLost: "connection_lost"
            case .notConnected: "not_connected"
            case .connectionRefused: "connection_refused"
            case .notAuthorized: "not_authorized"
            case .tls: "tls"
            case .protocolError: "protocol_error"
            case .invalidArgument: "invalid_argument"
            case .payloadTooLarge: "payload_too_large"
            case .notSupported: "not_supported"
            case .timeout: "timeout"
            case .rejected: "rejected"
            case .inFlightLimitReached: "in_flight_limit_reached"
            case .shutdown: "shutdown"
            case .outOfMemory: "out_of_memory"
            case .library: "library"
            }
        }
    }

    /// The kind of failure.
    public var code: Code
    /// A human-readable explanation (libmosquitto's own text where it has one).
    public var message: String
    /// The libmosquitto function or wrapper operation that failed.
    public var function: String
    /// libmosquitto's return code, a CONNACK code or an MQTT 5 reason code, when there is one.
    public var returnCode: Int32?
    /// Whether trying the same thing again later can succeed.
    public var isRetriable: Bool

    /// Creates an error.
    public init(code: Code, message: String, function: String, returnCode: Int32? = nil, isRetriable: Bool) {
        self.code = code
        self.message = message
        self.function = function
        self.returnCode = returnCode
        self.isRetriable = isRetriable
    }

    /// `function: message [code]`.
    public var description: String {
        let rc = returnCode.map { " rc=\($0)" } ?? ""
        return "\(function): \(message) [\(code)\(rc)\(isRetriable ? ", retriable" : "")]"
    }
}
