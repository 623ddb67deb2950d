public import Federation
import Glibc
public import TributaryWire
import UpdateCodec

/// A model checkpoint: the global model and the server optimizer's state after a round, written atomically
/// (temporary file, fsync, rename, fsync of the directory), so a crash leaves the old checkpoint or the new one.
///
/// Layout (little-endian): "TCKP", version 1, round (u32), model hash (u64), dimension n (u32), optimizer step
/// (u32), flags (u8: bit 0 momentum present, bit 1 second moment present), n float32 parameters, n float32 m
/// if flagged, n float32 v if flagged, CRC32C of everything before.
public struct Checkpoint: Sendable, Hashable {
    /// Round (model version) that produced it.
    public var round: UInt32
    /// The parameters.
    public var model: [Float]
    /// The server optimizer's state.
    public var optimizer: ServerOptimizerState

    /// Creates a checkpoint.
    public init(round: UInt32, model: [Float], optimizer: ServerOptimizerState) {
        self.round = round
        self.model = model
        self.optimizer = optimizer
    }

    static let magic: UInt32 = 0x504B_4354  // "TCKP"

    /// The file's bytes.
    public var bytes: [UInt8] {
        var w = ByteWriter(capacity: 32 + model.count * 12)
        w.write(Self.magic)
        w.write(UInt8(1))
        w.write(round)
        w.write(ModelHash.of(model))
        w.write(UInt32(model.count))
        w.write(UInt32(truncatingIfNeeded: optimizer.step))
        let flags: UInt8 = (optimizer.m.isEmpty ? 0 : 1) | (optimizer.v.isEmpty ? 0 : 2)
        w.write(flags)
        model.withUnsafeBufferPointer { w.write(floats: $0) }
        if !optimizer.m.isEmpty { optimizer.m.withUnsafeBufferPointer { w.write(floats: $0) } }
        if !optimizer.v.isEmpty { optimizer.v.withUnsafeBufferPointer { w.write(floats: $0) } }
        w.appendChecksum()
        return w.bytes
    }

    /// Parses a checkpoint file's bytes, checking everything.
    public init(bytes: [UInt8]) throws(WireError) {
        let parsed = bytes.withUnsafeBytes { all in
            Result { () throws(WireError) -> Checkpoint in
                guard all.count >= 4 else { throw WireError(.truncated, "checkpoint shorter than its checksum") }
                let body = UnsafeRawBufferPointer(rebasing: all[..<(all.count - 4)])
                let stored = UInt32(littleEndian: all.loadUnaligned(fromByteOffset: all.count - 4, as: UInt32.self))
                guard CRC32C.checksum(body) == stored else { throw WireError(.badChecksum, "checkpoint checksum") }
                var r = ByteReader(body)
                guard try r.read(UInt32.self, "magic") == Self.magic else {
                    throw WireError(.badMagic, "not a checkpoint")
                }
                guard try r.read(UInt8.self, "version") == 1 else { throw WireError(.unsupportedVersion, "checkpoint") }
                let round = try r.read(UInt32.self, "round")
                let hash = try r.read(UInt64.self, "model hash")
                let n = Int(try r.read(UInt32.self, "dimension"))
                let step = Int(try r.read(UInt32.self, "optimizer step"))
                let flags = try r.read(UInt8.self, "flags")
                guard flags & ~3 == 0 else { throw WireError(.malformed, "checkpoint flags \(flags)") }
                let arrays = 1 + Int(flags & 1) + Int(flags >> 1 & 1)
                guard r.remaining == arrays * 4 * n else {
                    throw WireError(.lengthMismatch, "checkpoint of \(n) parameters has \(r.remaining) bytes of arrays")
                }
                func floats() throws(WireError) -> [Float] {
                    let raw = try r.readBytes(4 * n, "floats")
                    return (0..<n).map {
                        Float(
                            bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self))
                        )
                    }
                }
                let model = try floats()
                guard ModelHash.of(model) == hash else { throw WireError(.mismatch, "checkpoint model hash") }
                var optimizer = ServerOptimizerState(dimension: 0)
                if flags & 1 != 0 { optimizer.m = try floats() }
                if flags & 2 != 0 { optimizer.v = try floats() }
                optimizer.step = step
                return Checkpoint(round: round, model: model, optimizer: optimizer)
            }
        }
        self = try parsed.get()
    }
}

/// Checkpoint files in `{state}/checkpoints`, written atomically; keeps the newest few.
public struct CheckpointStore: Sendable {
    /// The directory.
    public let directory: String
    /// How many checkpoints to keep per task.
    public var keep = 5

    /// Uses (and creates) `directory`.
    public init(directory: String) throws(StoreError) {
        self.directory = directory
        try makeDirectory(directory)
    }

    /// The file name of a task's checkpoint for a round.
    public func path(task: String, round: UInt32) -> String { "\(directory)/\(task)-r\(round).tckp" }

    /// Writes a checkpoint atomically; returns its path.
    @discardableResult
    public func write(_ checkpoint: Checkpoint, task: String) throws(StoreError) -> String {
        let final = path(task: task, round: checkpoint.round)
        let temporary = final + ".tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw StoreError("cannot create \(temporary): \(String(cString: strerror(errno)))") }
        let bytes = checkpoint.bytes
        var written = 0
        while written < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + written, bytes.count - written) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else {
                close(fd)
                throw StoreError("cannot write \(temporary): \(String(cString: strerror(errno)))")
            }
            written += n
        }
        guard fsync(fd) == 0 else {
            close(fd)
            throw StoreError("cannot sync \(temporary): \(String(cString: strerror(errno)))")
        }
        close(fd)
        guard rename(temporary, final) == 0 else {
            throw StoreError("cannot rename \(temporary): \(String(cString: strerror(errno)))")
        }
        let dir = open(directory, O_RDONLY | O_DIRECTORY)
        if dir >= 0 {
            _ = fsync(dir)
            close(dir)
        }
        prune(task: task, newest: checkpoint.round)
        return final
    }

    /// Reads a checkpoint file.
    public func read(_ path: String) throws(StoreError) -> Checkpoint {
        guard let file = fopen(path, "rb") else {
            throw StoreError("cannot open \(path): \(String(cString: strerror(errno)))")
        }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = fread(&buffer, 1, buffer.count, file)
            if n == 0 { break }
            bytes += buffer[0..<n]
        }
        do { return try Checkpoint(bytes: bytes) } catch { throw StoreError("\(path): \(error)") }
    }

    func prune(task: String, newest: UInt32) {
        guard newest >= UInt32(keep) else { return }
        let old = newest - UInt32(keep)
        // Rounds are consecutive; older files were pruned by earlier calls.
        for round in old.saturatingSubtract(8)...old { unlink(path(task: task, round: round)) }
    }
}

extension UInt32 {
    func saturatingSubtract(_ other: UInt32) -> UInt32 { self > other ? self - other : 0 }
}

/// Creates a directory and its parents.
func makeDirectory(_ path: String) throws(StoreError) {
    var partial = path.hasPrefix("/") ? "" : "."
    for component in path.split(separator: "/") {
        partial += "/" + component
        if mkdir(partial, 0o755) != 0 && errno != EEXIST {
            throw StoreError("cannot create \(partial): \(String(cString: strerror(errno)))")
        }
    }
}

/// A failure of the aggregator's durable state (database or checkpoint files).
public struct StoreError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What happened.
    public var message: String
    /// Creates an error.
    public init(_ message: String) { self.message = message }
    /// The message.
    public var description: String { message }
}
