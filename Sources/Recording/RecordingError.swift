public import TributaryWire

/// Why a recording could not be opened, read or written.
public struct RecordingError: Error, Sendable, CustomStringConvertible {
    /// The kind of failure.
    public enum Kind: Sendable, Hashable {
        /// The file does not exist or cannot be opened.
        case cannotOpen
        /// The file is not a Tributary recording (wrong magic).
        case notARecording
        /// A version this build does not read.
        case unsupportedVersion
        /// Damaged content beyond what recovery skips (a damaged header, a corrupt chunk inside the index).
        case corrupt
        /// The operating system refused a read, write or sync.
        case io
        /// A call that does not fit the file (unknown stream, wrong channel count).
        case invalidArgument
    }

    /// The kind.
    public var kind: Kind
    /// What happened, for people.
    public var message: String
    /// The file.
    public var path: String
    /// The decoder's reason, when a payload was rejected.
    public var wire: WireError?

    /// Creates an error.
    public init(_ kind: Kind, _ message: String, path: String, wire: WireError? = nil) {
        self.kind = kind
        self.message = message
        self.path = path
        self.wire = wire
    }

    /// `path: message`.
    public var description: String { "\(path): \(message)" + (wire.map { " (\($0))" } ?? "") }
}
