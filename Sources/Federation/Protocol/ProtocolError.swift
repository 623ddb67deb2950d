/// Why a control message was refused.
public struct ProtocolError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Reason codes, stable for metrics and logs.
    public enum Code: String, Sendable, Hashable {
        /// Not JSON, or not the expected shape.
        case malformed
        /// A `v` this build does not speak.
        case unsupportedVersion = "unsupported_version"
        /// Larger than the size limit.
        case tooLarge = "too_large"
        /// A field outside its range (an empty id, a negative deadline, k outside (0, 1]…).
        case invalidField = "invalid_field"
        /// The task specification's hash does not match its content.
        case hashMismatch = "hash_mismatch"
    }

    /// The reason.
    public var code: Code
    /// Details for people.
    public var message: String

    /// Creates an error.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    /// `code: message`.
    public var description: String { "\(code.rawValue): \(message)" }
}
