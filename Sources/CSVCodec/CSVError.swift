public import Recording

/// Why reading or writing CSV failed: the file, its content, or arguments that do not fit it.
public struct CSVError: Error, Sendable, CustomStringConvertible {
    /// The kind of failure.
    public enum Kind: Sendable, Hashable {
        /// A file that should exist does not, or cannot be read or written.
        case file
        /// The input is damaged or not in the expected format (a bad CSV line, a corrupt recording).
        case invalidInput
        /// Arguments that do not fit the input (scales for the wrong number of channels, say).
        case usage
    }

    /// The kind.
    public var kind: Kind
    /// What happened, for people.
    public var message: String

    /// Creates an error.
    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    /// Wraps a recording error, keeping what kind of failure it was.
    public init(_ error: RecordingError) {
        switch error.kind {
        case .cannotOpen, .io: kind = .file
        case .notARecording, .unsupportedVersion, .corrupt: kind = .invalidInput
        case .invalidArgument: kind = .usage
        }
        message = error.description
    }

    /// The message.
    public var description: String { message }
}
