/// A failure of the aggregator's durable state: the SQLite database, a checkpoint file, or what they hold.
public struct StateError: Error, Sendable, CustomStringConvertible {
    /// What failed. A struct over a private enum so new codes can be added without breaking users.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        fileprivate enum Value: Hashable, Sendable { case database, file, corrupt, conflict, locked }
        fileprivate let value: Value

        /// The database refused a read or write (locked, full disk, I/O).
        public static let database = Code(value: .database)
        /// A checkpoint or directory could not be read or written.
        public static let file = Code(value: .file)
        /// What is stored no longer decodes (a damaged file, a stored update that fails its checks).
        public static let corrupt = Code(value: .corrupt)
        /// The state belongs to something else (another task specification in the same state directory).
        public static let conflict = Code(value: .conflict)
        /// Another aggregator holds the state directory's lock.
        public static let locked = Code(value: .locked)

        /// A short, stable name.
        public var description: String {
            switch value {
            case .database: "database"
            case .file: "file"
            case .corrupt: "corrupt"
            case .conflict: "conflict"
            case .locked: "locked"
            }
        }
    }

    /// The kind of failure.
    public var code: Code
    /// What was being done.
    public var message: String
    /// The error underneath (GRDB's, a system call's, a decoder's).
    public var underlying: (any Error)?

    /// An error.
    public init(_ code: Code, _ message: String, underlying: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.underlying = underlying
    }

    /// Whether trying again later can help (a busy or full database, a file that may come back).
    public var isRetriable: Bool { code == .database || code == .file }

    /// "writing the state database: disk full [database]".
    public var description: String {
        message + (underlying.map { ": \($0)" } ?? "") + " [\(code)]"
    }
}

/// A round whose aggregation could not be carried out (an update the strategy refused, a partial that does not
/// merge): the strategy's own error underneath.
public struct AggregationFailure: Error, Sendable, CustomStringConvertible {
    /// What was being done.
    public var message: String
    /// The strategy's error.
    public var underlying: any Error

    /// An error.
    public init(_ message: String, underlying: any Error) {
        self.message = message
        self.underlying = underlying
    }

    /// "aggregating round 3: …".
    public var description: String { "\(message): \(underlying)" }
}
