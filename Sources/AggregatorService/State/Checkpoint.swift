public import Federation
import Glibc
import SystemSupport
public import TributaryWire
import UpdateCodec

/// A model checkpoint: the global model and the server optimizer's state after a round, written atomically
/// (temporary file, fsync, rename, fsync of the directory), so a crash leaves the old checkpoint or the new one.
///
/// Layout (little-endian): "TCKP", version 1, round (u32), model hash (u64), dimension n (u32), optimizer step
/// (u32), flags (u8: bit 0 momentum present, bit 1 second moment present, bit 2 broadcast model present), n
/// float32 parameters, n float32 m if flagged, n float32 v if flagged, n float32 of the broadcast model (what
/// devices hold when the downlink sends sparse deltas) if flagged, CRC32C of everything before.
public struct Checkpoint: Sendable, Hashable {
    /// Round (model version) that produced it.
    public var round: UInt32
    /// The parameters.
    public var model: [Float]
    /// The server optimizer's state.
    public var optimizer: ServerOptimizerState
    /// The model devices hold, when the downlink sends sparse deltas and it lags the aggregator's own.
    public var broadcast: [Float]?

    /// Creates a checkpoint.
    public init(round: UInt32, model: [Float], optimizer: ServerOptimizerState, broadcast: [Float]? = nil) {
        precondition(broadcast.map { $0.count == model.count } ?? true, "the broadcast model has another size")
        self.round = round
        self.model = model
        self.optimizer = optimizer
        self.broadcast = broadcast
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
        let flags: UInt8 = (optimizer.m.isEmpty ? 0 : 1) | (optimizer.v.isEmpty ? 0 : 2) | (broadcast == nil ? 0 : 4)
        w.write(flags)
        model.withUnsafeBufferPointer { w.write(floats: $0) }
        if !optimizer.m.isEmpty { optimizer.m.withUnsafeBufferPointer { w.write(floats: $0) } }
        if !optimizer.v.isEmpty { optimizer.v.withUnsafeBufferPointer { w.write(floats: $0) } }
        broadcast?.withUnsafeBufferPointer { w.write(floats: $0) }
        w.appendChecksum()
        return w.bytes
    }

    /// Parses a checkpoint file's bytes, checking everything.
    public init(bytes: [UInt8]) throws(WireError) {
        let parsed = bytes.withUnsafeBytes { all in
            Result { () throws(WireError) -> Checkpoint in
                var r = ByteReader(try CRC32C.checkedBody(all, "checkpoint"))
                guard try r.read(UInt32.self, "magic") == Self.magic else {
                    throw WireError(.badMagic, "not a checkpoint")
                }
                guard try r.read(UInt8.self, "version") == 1 else { throw WireError(.unsupportedVersion, "checkpoint") }
                let round = try r.read(UInt32.self, "round")
                let hash = try r.read(UInt64.self, "model hash")
                let n = Int(try r.read(UInt32.self, "dimension"))
                let step = Int(try r.read(UInt32.self, "optimizer step"))
                let flags = try r.read(UInt8.self, "flags")
                guard flags & ~7 == 0 else { throw WireError(.malformed, "checkpoint flags \(flags)") }
                let arrays = 1 + Int(flags & 1) + Int(flags >> 1 & 1) + Int(flags >> 2 & 1)
                guard r.remaining == arrays * 4 * n else {
                    throw WireError(.lengthMismatch, "checkpoint of \(n) parameters has \(r.remaining) bytes of arrays")
                }
                let model = try r.readFloats(n)
                guard ModelHash.of(model) == hash else { throw WireError(.mismatch, "checkpoint model hash") }
                var optimizer = ServerOptimizerState(dimension: 0)
                if flags & 1 != 0 { optimizer.m = try r.readFloats(n) }
                if flags & 2 != 0 { optimizer.v = try r.readFloats(n) }
                optimizer.step = step
                let broadcast = flags & 4 != 0 ? try r.readFloats(n) : nil
                return Checkpoint(round: round, model: model, optimizer: optimizer, broadcast: broadcast)
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
    public init(directory: String) throws(StateError) {
        self.directory = directory
        try makeDirectory(directory)
    }

    /// The file name of a task's checkpoint for a round.
    public func path(task: String, round: UInt32) -> String { "\(directory)/\(task)-r\(round).tckp" }

    /// Writes a checkpoint atomically; returns its path.
    @discardableResult
    public func write(_ checkpoint: Checkpoint, task: String) throws(StateError) -> String {
        let final = path(task: task, round: checkpoint.round)
        do { try FileIO.replace(final, with: checkpoint.bytes) } catch {
            throw StateError(.file, "cannot write the checkpoint \(final)", underlying: error)
        }
        prune(task: task, newest: checkpoint.round)
        return final
    }

    /// Reads a checkpoint file.
    public func read(_ path: String) throws(StateError) -> Checkpoint {
        let bytes: [UInt8]
        do { bytes = try FileIO.readAll(path) } catch {
            throw StateError(.file, "cannot read the checkpoint \(path)", underlying: error)
        }
        do { return try Checkpoint(bytes: bytes) } catch {
            throw StateError(.corrupt, "the checkpoint \(path) is damaged", underlying: error)
        }
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
func makeDirectory(_ path: String) throws(StateError) {
    do { try FileIO.makeDirectories(path) } catch {
        throw StateError(.file, "cannot create \(path)", underlying: error)
    }
}
