/// A failure of the trust layer: a key or certificate that cannot be read, made or used.
public struct TrustError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What kind of failure.
    public enum Code: String, Sendable, Hashable {
        /// A key, certificate or signature that is not what it must be (wrong length, wrong kind, bad PEM).
        case invalidKey = "invalid_key"
        /// libcrypto refused an operation.
        case crypto
        /// A file could not be read or written.
        case file
    }

    /// The kind.
    public let code: Code
    /// What was being done, and OpenSSL's reason when it gave one.
    public let message: String

    /// An error.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    /// The message and the code.
    public var description: String { "\(message) (\(code.rawValue))" }
}
