public import CSVCodec
public import Recording

/// Why a replay-tool operation failed. ``exitCode`` is what `tributary-replay` exits with.
public struct ReplayError: Error, Sendable, CustomStringConvertible {
    /// The kind of failure.
    public enum Kind: Sendable, Hashable {
        /// A file that should exist does not, or cannot be read or written.
        case file
        /// The input is damaged or not in the expected format (a corrupt recording, a bad CSV line).
        case invalidInput
        /// The broker cannot be reached or refused the connection.
        case broker
        /// Arguments that do not fit the input (an unknown stream id, say).
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
        self.init(CSVError(error))
    }

    /// Wraps a CSV error, keeping what kind of failure it was.
    public init(_ error: CSVError) {
        switch error.kind {
        case .file: kind = .file
        case .invalidInput: kind = .invalidInput
        case .usage: kind = .usage
        }
        message = error.message
    }

    /// 2 for files, 3 for invalid input, 4 for the broker, 64 for usage (as ArgumentParser's validation errors).
    public var exitCode: Int32 {
        switch kind {
        case .file: 2
        case .invalidInput: 3
        case .broker: 4
        case .usage: 64
        }
    }

    /// The message.
    public var description: String { message }
}
