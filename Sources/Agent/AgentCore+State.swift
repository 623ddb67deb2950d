import Glibc
import OnlineLearning
public import TributaryWire

extension AgentCore {
    static let stateMagic: UInt32 = 0x5347_4154  // "TAGS"

    /// The agent's state: which task and global model it holds, the learner (parameters, optimizer moments,
    /// standardiser), the error-feedback residual, and the last round it sent. Layout: "TAGS", version 1, spec
    /// hash (u64), global round (u32), global hash (u64), last sent round (u32), then length-prefixed (u32):
    /// learner state, residual (f32s), global parameters (f32s); CRC32C.
    public func savedState() -> [UInt8]? {
        guard let spec, let learner, let feedback else { return nil }
        var w = ByteWriter(capacity: 64 + 12 * globalParameters.count)
        w.write(Self.stateMagic)
        w.write(UInt8(1))
        w.write(spec.hash?.value ?? 0)
        w.write(globalRound)
        w.write(globalHash)
        w.write(lastSentRound)
        let learnerState = learner.savedState()
        w.write(UInt32(learnerState.count))
        w.write(bytes: learnerState)
        w.write(UInt32(feedback.residual.count))
        feedback.residual.withUnsafeBufferPointer { w.write(floats: $0) }
        w.write(UInt32(globalParameters.count))
        globalParameters.withUnsafeBufferPointer { w.write(floats: $0) }
        w.appendChecksum()
        return w.bytes
    }

    /// Restores a saved state if it is for the task configured now; returns whether it did.
    @discardableResult
    public func restore(_ bytes: [UInt8]) throws(WireError) -> Bool {
        guard let spec, var learner, var feedback else { return false }
        let parsed = bytes.withUnsafeBytes { all in
            Result { () throws(WireError) -> (UInt32, UInt64, UInt32, [UInt8], [Float], [Float])? in
                var r = ByteReader(try CRC32C.checkedBody(all, "agent state"))
                guard try r.read(UInt32.self, "magic") == Self.stateMagic else {
                    throw WireError(.badMagic, "agent state")
                }
                guard try r.read(UInt8.self, "version") == 1 else {
                    throw WireError(.unsupportedVersion, "agent state")
                }
                guard try r.read(UInt64.self, "spec hash") == spec.hash?.value else { return nil }
                let round = try r.read(UInt32.self, "round")
                let hash = try r.read(UInt64.self, "hash")
                let sent = try r.read(UInt32.self, "sent")
                let learnerBytes = Array(try r.readBytes(Int(try r.read(UInt32.self, "learner length")), "learner"))
                let residual = try r.readFloats(Int(try r.read(UInt32.self, "residual count")), "residual")
                let global = try r.readFloats(Int(try r.read(UInt32.self, "model count")), "global model")
                try r.expectEnd("agent state")
                return (round, hash, sent, learnerBytes, residual, global)
            }
        }
        guard let (round, hash, sent, learnerBytes, residual, global) = try parsed.get() else { return false }
        guard residual.count == feedback.dimension, global.count == feedback.dimension else {
            throw WireError(.mismatch, "agent state of another model size")
        }
        let restored = learnerBytes.withUnsafeBytes { bytes in
            Result { () throws(WireError) in try learner.restore(bytes) }
        }
        try restored.get()
        feedback.restore(residual: residual, velocity: feedback.velocity)
        globalRound = round
        globalHash = hash
        lastSentRound = sent
        globalParameters = global
        self.learner = learner
        self.feedback = feedback
        return true
    }
}
