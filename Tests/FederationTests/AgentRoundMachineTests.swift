import Testing

@testable import Federation

/// The device's round logic without a network: outbox, acknowledgements, resends, model adoption.
@Suite struct AgentRoundMachineTests {
    static func round(_ n: UInt32, model: UInt64, mode: RoundAnnouncement.Mode = .sync, devices: [String] = [])
        -> RoundAnnouncement
    {
        RoundAnnouncement(
            task: "t", round: n, specHash: 1, modelHash: model, mode: mode, deadlineMs: 0, selection: Selection(),
            devices: devices, training: LocalTraining(samples: 10))
    }

    /// A memory of epoch 0 in which round `n` was built.
    static func built(_ n: UInt32) -> RoundMemory {
        var memory = RoundMemory()
        memory.update(0) { $0.built = n }
        return memory
    }

    func machine() -> AgentRoundMachine {
        AgentRoundMachine(configuration: .init(device: "d1", resendMilliseconds: 1_000, minWindows: 5))
    }

    @Test("an update is built once, stored before it is published, resent until acknowledged, then discarded")
    func lifecycle() {
        var m = machine()
        #expect(m.handle(.modelHeld(round: 1, hash: 7)).isEmpty)
        #expect(m.handle(.announced(Self.round(1, model: 7), now: 0, verified: true)).isEmpty)
        #expect(m.handle(.tick(now: 0, connected: true, windows: 4)).isEmpty, "too few windows")
        #expect(m.handle(.tick(now: 10, connected: true, windows: 5)) == [.build(Self.round(1, model: 7))])
        #expect(m.handle(.tick(now: 11, connected: true, windows: 5)).isEmpty, "one build at a time")
        #expect(m.handle(.built(round: 1, payload: [1, 2])) == [.store(round: 1, payload: [1, 2])])
        #expect(m.handle(.tick(now: 12, connected: true, windows: 5)).isEmpty, "not published before it is stored")
        _ = m.handle(.stored(round: 1))
        #expect(m.handle(.tick(now: 13, connected: false, windows: 5)).isEmpty, "offline: nothing is sent")
        #expect(m.handle(.tick(now: 14, connected: true, windows: 5)) == [.publish(round: 1, payload: [1, 2])])
        _ = m.handle(.published(round: 1, now: 14))
        #expect(m.handle(.tick(now: 500, connected: true, windows: 50)).isEmpty, "not due, and never built twice")
        #expect(m.nextResend() == 1_014)
        #expect(m.handle(.tick(now: 1_014, connected: true, windows: 50)) == [.publish(round: 1, payload: [1, 2])])
        let ack = UpdateAck(task: "t", round: 1, device: "d1", status: .accepted)
        #expect(m.handle(.acknowledged(ack)) == [.discard(round: 1)])
        #expect(m.handle(.acknowledged(ack)).isEmpty, "a second answer for the same round does nothing")
        #expect(m.pending.isEmpty && m.nextResend() == nil)
    }

    @Test("not selected, or without the round's model: nothing is built")
    func selection() {
        var m = machine()
        _ = m.handle(.modelHeld(round: 1, hash: 7))
        _ = m.handle(.announced(Self.round(2, model: 7, devices: ["d2"]), now: 0, verified: true))
        #expect(m.handle(.tick(now: 0, connected: true, windows: 100)).isEmpty)
        _ = m.handle(.announced(Self.round(3, model: 8, devices: ["d1"]), now: 0, verified: true))
        #expect(m.handle(.tick(now: 0, connected: true, windows: 100)).isEmpty, "the round trains from model 8")
        #expect(m.handle(.modelOffered(round: 3, hash: 8, epoch: 0, now: 0, verified: true)) == [.adopt(round: 3)])
        #expect(
            m.handle(.modelOffered(round: 3, hash: 7, epoch: 0, now: 0, verified: true)).isEmpty,
            "the model held is not adopted again")
        _ = m.handle(.modelHeld(round: 3, hash: 8))
        #expect(m.handle(.tick(now: 0, connected: true, windows: 100)).count == 1)
    }

    @Test("a rejection is reported and ends the update; a later sync round discards older ones")
    func rejectionAndLaterRounds() {
        var m = machine()
        _ = m.handle(
            .restored(
                pending: [.init(round: 4, payload: [4]), .init(round: 5, payload: [5])], memory: Self.built(5), epoch: 0
            ))
        let reject = UpdateAck(task: "t", round: 4, device: "d1", status: .rejected, reason: "stale_model")
        #expect(m.handle(.acknowledged(reject)) == [.discard(round: 4), .rejected(round: 4, reason: "stale_model")])
        #expect(m.handle(.announced(Self.round(6, model: 1), now: 0, verified: true)) == [.discard(round: 5)])
        _ = m.handle(.modelHeld(round: 6, hash: 1))
        #expect(
            m.handle(.announced(Self.round(5, model: 1), now: 0, verified: true))
                == [.ignored(reason: "stale_round", round: 5)], "an older round of the same epoch")
        #expect(m.round?.round == 6)
    }

    @Test("an update the outbox could not keep is never published")
    func storeFailure() {
        var m = machine()
        _ = m.handle(.modelHeld(round: 1, hash: 7))
        _ = m.handle(.announced(Self.round(1, model: 7), now: 0, verified: true))
        _ = m.handle(.tick(now: 0, connected: true, windows: 100))
        _ = m.handle(.built(round: 1, payload: [9]))
        _ = m.handle(.storeFailed(round: 1))
        #expect(m.handle(.tick(now: 5_000, connected: true, windows: 100)).isEmpty)
        #expect(m.pending.isEmpty)
    }

    @Test("restored updates leave first, oldest first, when connected")
    func restored() {
        var m = machine()
        _ = m.handle(
            .restored(
                pending: [.init(round: 9, payload: [9]), .init(round: 8, payload: [8])], memory: RoundMemory(), epoch: 0
            ))
        #expect(
            m.handle(.tick(now: 0, connected: true, windows: 0)) == [
                .publish(round: 8, payload: [8]), .publish(round: 9, payload: [9]),
            ])
        #expect(m.lastBuiltRound == 9)
    }
}
