import Glibc

/// Whole-file reads, and crash-safe replacement for the state services must not lose (the agent's state and
/// outbox, the aggregator's checkpoints).
public enum FileIO {
    /// What failed, with the system's reason.
    public struct Failure: Error, CustomStringConvertible {
        /// "cannot create /path: No space left on device".
        public let description: String

        init(_ action: String, _ path: String) {
            description = "cannot \(action) \(path): \(String(cString: strerror(errno)))"
        }
    }

    /// The whole content of a file.
    public static func readAll(_ path: String) throws(Failure) -> [UInt8] {
        guard let file = fopen(path, "rb") else { throw Failure("open", path) }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = fread(&buffer, 1, buffer.count, file)
            if n == 0 { break }
            bytes += buffer[0..<n]
        }
        guard ferror(file) == 0 else { throw Failure("read", path) }
        return bytes
    }

    /// Replaces the file at `path` with `bytes` so that a crash leaves the old content or the new, never a mix:
    /// a temporary file beside it, fsync, rename, fsync of the directory.
    public static func replace(_ path: String, with bytes: [UInt8]) throws(Failure) {
        let temporary = path + ".tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw Failure("create", temporary) }
        var written = 0
        while written < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + written, bytes.count - written) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else {
                let failure = Failure("write", temporary)
                close(fd)
                throw failure
            }
            written += n
        }
        guard fsync(fd) == 0 else {
            let failure = Failure("sync", temporary)
            close(fd)
            throw failure
        }
        close(fd)
        guard rename(temporary, path) == 0 else { throw Failure("rename", temporary) }
        let directory = String(path[..<(path.lastIndex(of: "/") ?? path.startIndex)])
        let dir = open(directory.isEmpty ? "." : directory, O_RDONLY | O_DIRECTORY)
        if dir >= 0 {
            _ = fsync(dir)
            close(dir)
        }
    }
}
