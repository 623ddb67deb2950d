import Glibc

/// A failed system call: which call, on what (a path, an address), and the system's reason (`errno`).
///
/// ``isRetriable`` says whether trying again later can help (an interrupted or would-block call, a full disk
/// that may be freed, a busy resource) or not (no permission, no such file, a bad argument).
public struct SystemError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What went wrong. A struct over a private enum so new codes can be added without breaking users.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        fileprivate enum Value: Hashable, Sendable {
            case notFound, permissionDenied, exists, noSpace, busy, interrupted, invalidArgument, addressInUse
            case tooManyFiles, io, other
        }

        fileprivate let value: Value

        fileprivate init(value: Value) { self.value = value }

        /// No such file, directory or address (`ENOENT`, `EADDRNOTAVAIL`).
        public static let notFound = Code(value: .notFound)
        /// Not allowed (`EACCES`, `EPERM`, `EROFS`).
        public static let permissionDenied = Code(value: .permissionDenied)
        /// Already there (`EEXIST`).
        public static let exists = Code(value: .exists)
        /// The disk or quota is full (`ENOSPC`, `EDQUOT`).
        public static let noSpace = Code(value: .noSpace)
        /// Held by someone else (`EBUSY`, `EWOULDBLOCK` on a lock, `ETXTBSY`).
        public static let busy = Code(value: .busy)
        /// Interrupted by a signal or would block (`EINTR`, `EAGAIN`).
        public static let interrupted = Code(value: .interrupted)
        /// A bad argument (`EINVAL`, `ENAMETOOLONG`, `ENOTDIR`, `EISDIR`).
        public static let invalidArgument = Code(value: .invalidArgument)
        /// A port or address already taken (`EADDRINUSE`).
        public static let addressInUse = Code(value: .addressInUse)
        /// Out of descriptors (`EMFILE`, `ENFILE`).
        public static let tooManyFiles = Code(value: .tooManyFiles)
        /// An input/output error (`EIO`).
        public static let io = Code(value: .io)
        /// Any other failure.
        public static let other = Code(value: .other)

        init(errno number: Int32) {
            switch number {
            case ENOENT, EADDRNOTAVAIL: self = .notFound
            case EACCES, EPERM, EROFS: self = .permissionDenied
            case EEXIST: self = .exists
            case ENOSPC, EDQUOT: self = .noSpace
            case EBUSY, EWOULDBLOCK, ETXTBSY: self = .busy
            case EINTR: self = .interrupted
            case EINVAL, ENAMETOOLONG, ENOTDIR, EISDIR: self = .invalidArgument
            case EADDRINUSE: self = .addressInUse
            case EMFILE, ENFILE: self = .tooManyFiles
            case EIO: self = .io
            default: self = .other
            }
        }

        /// A short, stable name for logs and metric labels.
        public var description: String {
            switch value {
            case .notFound: "not_found"
            case .permissionDenied: "permission_denied"
            case .exists: "exists"
            case .noSpace: "no_space"
            case .busy: "busy"
            case .interrupted: "interrupted"
            case .invalidArgument: "invalid_argument"
            case .addressInUse: "address_in_use"
            case .tooManyFiles: "too_many_files"
            case .io: "io"
            case .other: "other"
            }
        }
    }

    /// The kind of failure.
    public var code: Code
    /// The system call that failed (`open`, `fsync`, `bind`…).
    public var function: String
    /// What it was called on: a path, an address; empty when nothing in particular.
    public var subject: String
    /// The `errno` value.
    public var errno: Int32

    /// An error for `function` on `subject` with the system's `errno` value.
    public init(_ function: String, _ subject: String = "", errno number: Int32) {
        code = Code(errno: number)
        self.function = function
        self.subject = subject
        self.errno = number
    }

    /// Whether trying again later can help.
    public var isRetriable: Bool {
        code == .interrupted || code == .noSpace || code == .busy || code == .tooManyFiles || code == .io
    }

    /// The system's text for the error.
    public var reason: String { String(cString: strerror(errno)) }

    /// "open /var/lib/x: No such file or directory [not_found]".
    public var description: String {
        "\(function)\(subject.isEmpty ? "" : " \(subject)"): \(reason) [\(code)]"
    }
}

/// The gateway every system call goes through: runs `call` again while it fails with `EINTR`, and turns a
/// failure (a result below zero) into a ``SystemError`` naming the call and its subject.
@discardableResult
@inline(__always)
public func system<Result: BinaryInteger>(
    _ function: String, _ subject: @autoclosure () -> String = "", _ call: () -> Result
) throws(SystemError) -> Result {
    while true {
        let result = call()
        if result >= 0 { return result }
        let number = Glibc.errno
        if number == EINTR { continue }
        throw SystemError(function, subject(), errno: number)
    }
}
