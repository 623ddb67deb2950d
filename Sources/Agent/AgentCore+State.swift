import Federation
import OnlineLearning
public import TributaryWire

extension AgentCore {
    static let stateMagic: UInt32 = 0x5347_4154  // "TAGS"

    /// The agent's state: which task and global model it holds, the learner (parameters, optimizer moments,
    /// standardiser), the error-feedback residual, the last round it sent and its memory of federation epochs.
    /// Layout: "TAGS", version 2, spec hash (u64), global round (u32), global hash (u64), last sent round (u32),
    /// the global model's epoch (u64), the epoch followed (u64), the round memory (``RoundMemory/bytes``), then
    /// length-prefixed (u32): learner state, residual (f32s), global parameters (f32s); CRC32C. Version 1 (no
    /// epochs) is still read: its last sent round becomes the memory of epoch 0.
    public func savedState() -> [UInt8]? {
        guard let task else { return nil }
        var w = ByteWriter(capacity: 64 + 12 * task.global.count)
        w.write(Self.stateMagic)
        w.write(UInt8(2))
        w.write(task.spec.hash?.value ?? 0)
        w.write(task.globalRound)
        w.write(task.globalHash)
        w.write(task.lastSentRound)
        w.write(task.globalEpoch)
        w.write(task.epoch)
        w.write(bytes: task.memory.bytes)
        let learnerState = task.learner.savedState()
        w.write(UInt32(learnerState.count))
        w.write(bytes: learnerState)
        w.write(UInt32(task.updates.feedback.residual.count))
        task.updates.feedback.residual.withUnsafeBufferPointer { w.write(floats: $0) }
        w.write(UInt32(task.global.count))
        task.global.withUnsafeBufferPointer { w.write(floats: $0) }
        w.appendChecksum()
        return w.bytes
    }

    /// Restores a saved state if it is for the task configured now; returns whether it did. A damaged state
    /// changes nothing.
    @discardableResult
    public func restore(_ bytes: [UInt8]) throws(WireError) -> Bool {
        guard let task else { return false }
        let specHash = task.spec.hash?.value
        let parsed = bytes.withUnsafeBytes { all in
            Result { () throws(WireError) -> Saved? in
                var r = ByteReader(try CRC32C.checkedBody(all, "agent state"))
                guard try r.read(UInt32.self, "magic") == Self.stateMagic else {
                    throw WireError(.badMagic, "agent state")
                }
                let version = try r.read(UInt8.self, "version")
                guard version == 1 || version == 2 else { throw WireError(.unsupportedVersion, "agent state") }
                guard try r.read(UInt64.self, "spec hash") == specHash else { return nil }
                let round = try r.read(UInt32.self, "round")
                let hash = try r.read(UInt64.self, "hash")
                let sent = try r.read(UInt32.self, "sent")
                var saved = Saved(round: round, hash: hash, sent: sent)
                if version == 2 {
                    saved.globalEpoch = try r.read(UInt64.self, "model epoch")
                    saved.epoch = try r.read(UInt64.self, "epoch")
                    saved.memory = try RoundMemory(reading: &r)
                } else {
                    saved.memory.update(0) { $0.built = sent }
                }
                let learnerBytes = Array(try r.readBytes(Int(try r.read(UInt32.self, "learner length")), "learner"))
                let residual = try r.readFloats(Int(try r.read(UInt32.self, "residual count")), "residual")
                let global = try r.readFloats(Int(try r.read(UInt32.self, "model count")), "global model")
                try r.expectEnd("agent state")
                saved.learner = learnerBytes
                saved.residual = residual
                saved.global = global
                return saved
            }
        }
        guard let saved = try parsed.get() else { return false }
        let (learnerBytes, residual, global) = (saved.learner, saved.residual, saved.global)
        let dimension = task.updates.feedback.dimension
        guard residual.count == dimension, global.count == dimension else {
            throw WireError(.mismatch, "agent state of another model size")
        }
        // The learner is restored into a copy first, so a damaged learner state leaves everything as it was.
        var learner = task.learner
        let restored = learnerBytes.withUnsafeBytes { bytes in
            Result { () throws(WireError) in try learner.restore(bytes) }
        }
        try restored.get()
        task.learner = learner
        task.updates.feedback.restore(residual: residual, velocity: task.updates.feedback.velocity)
        task.globalRound = saved.round
        task.globalHash = saved.hash
        task.lastSentRound = saved.sent
        task.globalEpoch = saved.globalEpoch
        task.epoch = saved.epoch
        task.memory = saved.memory
        task.global = global
        return true
    }

    /// A saved state, as read.
    struct Saved {
        var round: UInt32
        var hash: UInt64
        var sent: UInt32
        var globalEpoch: UInt64 = 0
        var epoch: UInt64 = 0
        var memory = RoundMemory()
        var learner: [UInt8] = []
        var residual: [Float] = []
        var global: [Float] = []
    }
}
