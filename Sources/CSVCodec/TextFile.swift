import Glibc

/// A text file read line by line (`getline`), or standard input for "-".
final class LineReader {
    let path: String
    let file: UnsafeMutablePointer<FILE>
    let ownsFile: Bool
    var buffer: UnsafeMutablePointer<CChar>?
    var capacity = 0
    /// Lines read so far (the number of the last line returned).
    private(set) var lineNumber = 0

    init(path: String) throws(CSVError) {
        self.path = path
        if path == "-" {
            guard let standardInput = fdopen(STDIN_FILENO, "r") else {
                throw CSVError(.file, "cannot read standard input")
            }
            file = standardInput
            ownsFile = false
        } else {
            guard let opened = fopen(path, "r") else {
                throw CSVError(.file, "\(path): cannot open: \(String(cString: strerror(errno)))")
            }
            file = opened
            ownsFile = true
        }
    }

    deinit {
        free(buffer)
        if ownsFile { fclose(file) }
    }

    /// Bytes consumed so far (for progress), or nil for a pipe.
    var offset: Int? {
        let position = ftell(file)
        return position >= 0 ? Int(position) : nil
    }

    /// The size of a regular file.
    var size: Int? {
        var info = stat()
        guard fstat(fileno(file), &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return nil }
        return Int(info.st_size)
    }

    /// Starts again from the first line.
    func rewind() throws(CSVError) {
        guard fseek(file, 0, SEEK_SET) == 0 else {
            throw CSVError(.file, "\(path): cannot rewind: \(String(cString: strerror(errno)))")
        }
        lineNumber = 0
    }

    /// The next line without its line ending, or nil at the end.
    func next() throws(CSVError) -> String? {
        let n = getline(&buffer, &capacity, file)
        if n < 0 {
            if ferror(file) != 0 {
                throw CSVError(.file, "\(path): read failed: \(String(cString: strerror(errno)))")
            }
            return nil
        }
        lineNumber += 1
        var length = n
        while length > 0, buffer![length - 1] == 0x0A || buffer![length - 1] == 0x0D { length -= 1 }
        return buffer!.withMemoryRebound(to: UInt8.self, capacity: length) { bytes in
            String(decoding: UnsafeBufferPointer(start: bytes, count: length), as: UTF8.self)
        }
    }
}

/// Buffered text output to a file or standard output ("-").
final class TextOutput {
    let path: String
    let file: UnsafeMutablePointer<FILE>
    let ownsFile: Bool

    init(path: String) throws(CSVError) {
        self.path = path
        if path == "-" {
            guard let standardOutput = fdopen(STDOUT_FILENO, "w") else {
                throw CSVError(.file, "cannot write standard output")
            }
            file = standardOutput
            ownsFile = false
        } else {
            guard let opened = fopen(path, "w") else {
                throw CSVError(.file, "\(path): cannot create: \(String(cString: strerror(errno)))")
            }
            file = opened
            ownsFile = true
        }
    }

    deinit { if ownsFile { fclose(file) } }

    func write(_ text: String) throws(CSVError) {
        var text = text
        let ok = text.withUTF8 { fwrite($0.baseAddress, 1, $0.count, file) == $0.count }
        guard ok else { throw CSVError(.file, "\(path): write failed: \(String(cString: strerror(errno)))") }
    }

    /// Flushes and, for a file, forces it to disk.
    func finish() throws(CSVError) {
        guard fflush(file) == 0, !ownsFile || fsync(fileno(file)) == 0 else {
            throw CSVError(.file, "\(path): write failed: \(String(cString: strerror(errno)))")
        }
    }
}
