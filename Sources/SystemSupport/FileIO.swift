public import Glibc

/// Whole-file reads, crash-safe replacement for the state services must not lose (the agent's state and
/// outbox, the aggregator's checkpoints), and directories. Every call goes through ``system(_:_:_:)``.
public enum FileIO {
    /// The whole content of a file.
    public static func readAll(_ path: String) throws(SystemError) -> [UInt8] {
        let fd = try system("open", path) { open(path, O_RDONLY | O_CLOEXEC) }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = try system("read", path) { buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) } }
            if n == 0 { break }
            bytes += buffer[0..<n]
        }
        return bytes
    }

    /// Replaces the file at `path` with `bytes` so that a crash leaves the old content or the new, never a mix:
    /// a temporary file beside it, fsync, rename, fsync of the directory. `mode` is the new file's permissions
    /// (0600 for secrets).
    public static func replace(_ path: String, with bytes: [UInt8], mode: mode_t = 0o644) throws(SystemError) {
        let temporary = path + ".tmp"
        let fd = try system("open", temporary) { open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode) }
        do throws(SystemError) {
            var written = 0
            while written < bytes.count {
                let n = try system("write", temporary) {
                    bytes.withUnsafeBytes { write(fd, $0.baseAddress! + written, bytes.count - written) }
                }
                guard n > 0 else { throw SystemError("write", temporary, errno: EIO) }
                written += n
            }
            try system("fsync", temporary) { fsync(fd) }
        } catch {
            close(fd)
            unlink(temporary)
            throw error
        }
        close(fd)
        try system("rename", temporary) { rename(temporary, path) }
        try syncDirectory(of: path)
    }

    /// Removes a file; a file that is not there is not an error.
    public static func remove(_ path: String) throws(SystemError) {
        guard unlink(path) != 0 else { return }
        let number = errno
        if number != ENOENT { throw SystemError("unlink", path, errno: number) }
    }

    /// Makes the directory holding `path` durable (after a rename or unlink in it).
    public static func syncDirectory(of path: String) throws(SystemError) {
        let directory = String(path[..<(path.lastIndex(of: "/") ?? path.startIndex)])
        let name = directory.isEmpty ? "." : directory
        let fd = try system("open", name) { open(name, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
        defer { close(fd) }
        try system("fsync", name) { fsync(fd) }
    }

    /// Creates a directory and its parents (`mkdir -p`).
    public static func makeDirectories(_ path: String, mode: mode_t = 0o755) throws(SystemError) {
        var partial = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/") {
            partial += "/" + component
            if mkdir(partial, mode) != 0 {
                let number = errno
                guard number == EEXIST else { throw SystemError("mkdir", partial, errno: number) }
            }
        }
    }

    /// The names in a directory (without `.` and `..`).
    public static func names(in directory: String) throws(SystemError) -> [String] {
        guard let dir = opendir(directory) else { throw SystemError("opendir", directory, errno: errno) }
        defer { closedir(dir) }
        var result: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(cString: raw.bindMemory(to: CChar.self).baseAddress!)
            }
            if name != "." && name != ".." { result.append(name) }
        }
        return result
    }
}
