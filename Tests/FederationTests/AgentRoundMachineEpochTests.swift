import Testing
import TributaryWire

@testable import Federation

/// Federation epochs in the device's round logic: stale retained copies are ignored, a new aggregator state is
/// followed, a forged far-ahead round does not shut a device out.
@Suite struct AgentRoundMachineEpochTests {
    static func round(_ n: UInt32, epoch: UInt64, model: UInt64 = 7) -> RoundAnnouncement {
        RoundAnnouncement(
            task: "t", round: n, specHash: 1, modelHash: model, mode: .sync, deadlineMs: 0, selection: Selection(),
            devices: [], training: LocalTraining(samples: 10), epoch: epoch)
    }

    func machine() -> AgentRoundMachine {
        AgentRoundMachine(configuration: .init(device: "d1", resendMilliseconds: 1_000, minWindows: 1))
    }

    /// Takes the model of `hash` and round `n` in `epoch`, and builds an update for round `n`.
    func train(_ m: inout AgentRoundMachine, round n: UInt32, epoch: UInt64, model hash: UInt64, now: Int64) {
        for action in m.handle(.modelOffered(round: n, hash: hash, epoch: epoch, now: now, verified: false)) {
            if case .adopt = action { _ = m.handle(.modelHeld(round: n, hash: hash)) }
        }
        _ = m.handle(.announced(Self.round(n, epoch: epoch, model: hash), now: now, verified: false))
        let actions = m.handle(.tick(now: now, connected: false, windows: 10))
        #expect(actions == [.build(Self.round(n, epoch: epoch, model: hash))], "round \(n) of epoch \(epoch)")
        _ = m.handle(.built(round: n, payload: [UInt8(n & 0xFF)]))
    }

    @Test("a restored broker's older round and model of the same epoch are ignored with their reasons")
    func staleCopies() {
        var m = machine()
        train(&m, round: 19, epoch: 5, model: 190, now: 0)
        #expect(
            m.handle(.announced(Self.round(3, epoch: 5, model: 30), now: 10, verified: false))
                == [.ignored(reason: "stale_round", round: 3)])
        #expect(
            m.handle(.modelOffered(round: 3, hash: 30, epoch: 5, now: 10, verified: false))
                == [.ignored(reason: "stale_model", round: 3)])
        #expect(m.model.hash == 190, "the stale model is not adopted")
        #expect(m.round?.round == 19)
        // The current round repeated (the aggregator republishing) is taken as before.
        #expect(m.handle(.announced(Self.round(19, epoch: 5, model: 190), now: 20, verified: false)).isEmpty)
    }

    @Test("a new epoch is followed from its round 1; its pending updates of the old epoch are discarded")
    func newEpoch() {
        var m = machine()
        train(&m, round: 20, epoch: 5, model: 200, now: 0)
        #expect(m.pending.keys.sorted() == [20])
        let switched = m.handle(.modelOffered(round: 1, hash: 10, epoch: 9, now: 5, verified: false))
        #expect(switched == [.enteredEpoch(9), .discard(round: 20), .adopt(round: 1)])
        _ = m.handle(.modelHeld(round: 1, hash: 10))
        #expect(m.epoch == 9)
        _ = m.handle(.announced(Self.round(1, epoch: 9, model: 10), now: 6, verified: false))
        #expect(m.handle(.tick(now: 6, connected: false, windows: 10)) == [.build(Self.round(1, epoch: 9, model: 10))])
        // The dead epoch's retained copies (a broker restored them) do not pull the device back.
        #expect(
            m.handle(.announced(Self.round(20, epoch: 5, model: 200), now: 7, verified: false))
                == [.ignored(reason: "old_epoch", round: 20)])
        #expect(
            m.handle(.modelOffered(round: 20, hash: 200, epoch: 5, now: 7, verified: false))
                == [.ignored(reason: "old_epoch", round: 20)])
        #expect(m.epoch == 9)
    }

    @Test("a dead epoch showing rounds the device never saw is not returned to, unless the current one falls silent")
    func deadEpochAhead() {
        var m = machine()
        train(&m, round: 20, epoch: 5, model: 200, now: 0)
        train(&m, round: 1, epoch: 9, model: 10, now: 1_000)
        #expect(
            m.handle(.announced(Self.round(22, epoch: 5, model: 220), now: 2_000, verified: true))
                == [.ignored(reason: "old_epoch", round: 22)])
        #expect(
            m.handle(.modelOffered(round: 22, hash: 220, epoch: 5, now: 2_000, verified: true))
                == [.ignored(reason: "old_epoch", round: 22)])
        #expect(m.epoch == 9 && m.model.hash == 10)
        // Ten minutes without a word from epoch 9: epoch 5 (a state restored from a backup) is followed again.
        let back = m.handle(.announced(Self.round(23, epoch: 5, model: 220), now: 602_000, verified: true))
        #expect(back.first == .enteredEpoch(5) && m.epoch == 5)
    }

    @Test("after a reset, the old epoch's round is not trained for in the new one, even on the same model")
    func resetForgetsTheOldRound() {
        var m = machine()
        // Epoch 5 never aggregated: its round 7 trains from the initial model 10, as the new epoch's will.
        train(&m, round: 7, epoch: 5, model: 10, now: 0)
        _ = m.handle(.acknowledged(UpdateAck(task: "t", round: 7, device: "d1", status: .accepted, epoch: 5)))
        #expect(
            m.handle(.modelOffered(round: 1, hash: 10, epoch: 9, now: 10, verified: false)) == [.enteredEpoch(9)])
        #expect(m.round == nil)
        #expect(m.handle(.tick(now: 10, connected: false, windows: 10)).isEmpty, "no build before epoch 9 announces")
        _ = m.handle(.announced(Self.round(1, epoch: 9, model: 10), now: 11, verified: false))
        #expect(m.handle(.tick(now: 11, connected: false, windows: 10)) == [.build(Self.round(1, epoch: 9, model: 10))])
    }

    @Test("an agent state from before epochs carries its rounds and waiting updates into the first epoch it sees")
    func upgradeFromEpochZero() {
        var m = machine()
        var memory = RoundMemory()
        memory.update(0) {
            $0.round = 7
            $0.built = 7
        }
        _ = m.handle(.restored(pending: [.init(round: 7, payload: [7])], memory: memory, epoch: 0))
        // The upgraded aggregator goes on numbering: round 7 again (republished), its update still pending.
        #expect(m.handle(.announced(Self.round(7, epoch: 5), now: 0, verified: false)) == [.enteredEpoch(5)])
        #expect(m.pending[7] != nil && m.lastBuiltRound == 7)
        _ = m.handle(.modelHeld(round: 7, hash: 7))
        #expect(m.handle(.tick(now: 0, connected: false, windows: 10)).isEmpty, "round 7 is not built again")
    }

    @Test("an unsigned round far ahead is not believed; a signed one is, and silence widens the allowance")
    func farAhead() {
        var m = machine()
        train(&m, round: 5, epoch: 5, model: 50, now: 0)
        #expect(
            m.handle(.announced(Self.round(UInt32.max, epoch: 5), now: 1_000, verified: false))
                == [.ignored(reason: "round_too_far", round: UInt32.max)])
        // The real next round still trains: the device is not shut out.
        _ = m.handle(.announced(Self.round(6, epoch: 5, model: 50), now: 1_100, verified: false))
        #expect(
            m.handle(.tick(now: 1_100, connected: false, windows: 10)) == [.build(Self.round(6, epoch: 5, model: 50))])
        // 10,000 rounds plus 1,000 a second of silence: 100 s later, 110,000 ahead is believed.
        #expect(
            m.handle(.announced(Self.round(6 + 110_000, epoch: 5, model: 50), now: 101_100, verified: false)).isEmpty)
        // Signed: any distance.
        var signed = machine()
        train(&signed, round: 5, epoch: 5, model: 50, now: 0)
        #expect(
            signed.handle(.announced(Self.round(4_000_000, epoch: 5, model: 50), now: 1, verified: true))
                == [.discard(round: 5)], "followed: the update of round 5 is useless now")
    }

    @Test("an acknowledgement from another epoch's aggregator leaves this epoch's pending update alone")
    func otherEpochAck() {
        var m = machine()
        train(&m, round: 3, epoch: 5, model: 30, now: 0)
        let stray = UpdateAck(task: "t", round: 3, device: "d1", status: .accepted, epoch: 4)
        #expect(m.handle(.acknowledged(stray)) == [.ignored(reason: "other_epoch", round: 3)])
        #expect(m.pending[3] != nil)
        let answer = UpdateAck(task: "t", round: 3, device: "d1", status: .accepted, epoch: 5)
        #expect(m.handle(.acknowledged(answer)) == [.discard(round: 3)])
    }

    @Test("the memory survives its bytes, and keeps at most eight epochs")
    func memoryBytes() throws {
        var memory = RoundMemory()
        for epoch in UInt64(1)...10 {
            memory.update(epoch) {
                $0.round = UInt32(epoch) * 3
                $0.modelRound = UInt32(epoch) * 2
                $0.modelHash = epoch &* 0x9E37_79B9
                $0.built = UInt32(epoch)
                $0.seenAt = Int64(epoch)
            }
        }
        #expect(memory.entries.count == RoundMemory.capacity)
        #expect(memory[1] == nil && memory[2] == nil, "the least recently seen go first")
        let read = try memory.bytes.withUnsafeBytes { raw in
            var reader = ByteReader(raw)
            return try RoundMemory(reading: &reader)
        }
        #expect(read.entries.keys.sorted() == Array(UInt64(3)...10))
        #expect(read[7]?.round == 21 && read[7]?.modelRound == 14 && read[7]?.built == 7)
        #expect(read[7]?.modelHash == 7 &* 0x9E37_79B9)
    }
}

/// Hostile epochs: a saved memory claiming more epochs than it may hold, and epochs that are not 16 hex digits.
@Suite struct EpochInputTests {
    @Test("a saved memory claiming more than eight epochs is refused, not read")
    func absurdMemory() {
        var w = ByteWriter(capacity: 1)
        w.write(UInt8(200))
        #expect {
            try w.bytes.withUnsafeBytes { raw in
                var reader = ByteReader(raw)
                return try RoundMemory(reading: &reader)
            }
        } throws: { ($0 as? WireError)?.code == .countOutOfRange }
    }

    @Test("an announcement or acknowledgement whose epoch is not 16 hex digits is refused; one without is epoch 0")
    func malformedEpoch() throws {
        let plain = AgentRoundMachineEpochTests.round(3, epoch: 0)
        #expect(try RoundAnnouncement.decode(plain.json).epoch == 0)
        let text = String(decoding: AgentRoundMachineEpochTests.round(3, epoch: 0xABC).json, as: UTF8.self)
        #expect(text.contains(#""epoch":"0000000000000abc""#))
        for forged in ["zz", "-1", "00000000000000000", ""] {
            let bad = text.replacingOccurrences(of: "0000000000000abc", with: forged)
            #expect(throws: ProtocolError.self) { try RoundAnnouncement.decode(Array(bad.utf8)) }
            let ack = #"{"device":"d1","epoch":"\#(forged)","round":3,"status":"accepted","task":"t","v":1}"#
            #expect(throws: ProtocolError.self) { try UpdateAck.decode(Array(ack.utf8)) }
        }
    }
}
