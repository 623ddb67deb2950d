import Glibc

/// A file descriptor with the few calls recordings need, each failure a ``RecordingError``.
final class RawFile {
    let fd: Int32
    let path: String

    init(path: String, write: Bool) throws(RecordingError) {
        self.path = path
        fd = write ? open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644) : open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw RecordingError(.cannotOpen, "cannot open: \(String(cString: strerror(errno)))", path: path)
        }
    }

    deinit { close(fd) }

    var size: Int {
        var info = stat()
        return fstat(fd, &info) == 0 ? Int(info.st_size) : 0
    }

    func write(_ bytes: [UInt8]) throws(RecordingError) {
        var written = 0
        while written < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + written, bytes.count - written) }
            if n < 0 {
                if errno == EINTR { continue }
                throw RecordingError(.io, "write failed: \(String(cString: strerror(errno)))", path: path)
            }
            written += n
        }
    }

    func sync() throws(RecordingError) {
        guard fsync(fd) == 0 else {
            throw RecordingError(.io, "fsync failed: \(String(cString: strerror(errno)))", path: path)
        }
    }

    /// Reads exactly `count` bytes at `offset`, or fewer at the end of the file.
    func read(at offset: Int, count: Int) throws(RecordingError) -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: count)
        var got = 0
        while got < count {
            let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + got, count - got, off_t(offset + got)) }
            if n < 0 {
                if errno == EINTR { continue }
                throw RecordingError(.io, "read failed: \(String(cString: strerror(errno)))", path: path)
            }
            if n == 0 { break }
            got += n
        }
        if got < count { buffer.removeLast(count - got) }
        return buffer
    }
}
