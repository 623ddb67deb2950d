/// An error from the zstd wrapper: a failed libzstd call, a size cap that a frame would exceed, or an input
/// that is not a complete zstd frame.
///
/// `Code` is a struct over a private enum so that new codes can be added without breaking users who switch on
/// the well-known ones with `==`.
public struct ZstdError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What went wrong, independent of which call noticed it.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        fileprivate enum Value: Hashable, Sendable {
            case corruptInput
            case notZstd
            case truncatedInput
            case sizeLimitExceeded
            case windowTooLarge
            case outputTooSmall
            case invalidParameter
            case allocationFailed
            case library
        }

        fileprivate let value: Value

        /// The input is damaged: bad block, checksum mismatch, or sizes that do not add up.
        public static let corruptInput = Code(value: .corruptInput)
        /// The input does not start with a zstd frame magic number.
        public static let notZstd = Code(value: .notZstd)
        /// The input ended before the frame did.
        public static let truncatedInput = Code(value: .truncatedInput)
        /// Decompressing would produce more bytes than the configured cap (a decompression bomb, or simply too big).
        public static let sizeLimitExceeded = Code(value: .sizeLimitExceeded)
        /// The frame asks for a larger decoder window than allowed.
        public static let windowTooLarge = Code(value: .windowTooLarge)
        /// A caller-provided output buffer is too small for the result.
        public static let outputTooSmall = Code(value: .outputTooSmall)
        /// A level or parameter outside the range libzstd accepts.
        public static let invalidParameter = Code(value: .invalidParameter)
        /// libzstd could not allocate a context or its working memory.
        public static let allocationFailed = Code(value: .allocationFailed)
        /// Any other libzstd error; the message carries libzstd's own name for it.
        public static let library = Code(value: .library)

        /// A short, stable name for logs and metric labels.
        public var description: String {
            switch value {
            case .corruptInput: "corrupt_input"
            case .notZstd: "not_zstd"
            case .truncatedInput: "truncated_input"
            case .sizeLimitExceeded: "size_limit_exceeded"
            case .windowTooLarge: "window_too_large"
            case .outputTooSmall: "output_too_small"
            case .invalidParameter: "invalid_parameter"
            case .allocationFailed: "allocation_failed"
            case .library: "library"
            }
        }
    }

    /// The kind of failure.
    public var code: Code
    /// A human-readable explanation.
    public var message: String
    /// The libzstd function that reported the failure, or the wrapper operation that detected it.
    public var function: String

    /// Creates an error.
    public init(code: Code, message: String, function: String) {
        self.code = code
        self.message = message
        self.function = function
    }

    /// `function: message [code]`.
    public var description: String { "\(function): \(message) [\(code)]" }
}
