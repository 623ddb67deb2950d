import Federation
import Testing

@Suite struct RoundMachineTests {
    typealias Machine = RoundMachine
    static let base: UInt64 = 0xABCD

    static func machine(
        _ selection: Selection = Selection(), min: Int = 1, mode: Machine.Configuration.Mode = .synchronous,
        maxRounds: Int? = nil
    ) -> Machine {
        Machine(
            configuration: .init(
                mode: mode, selection: selection, minParticipants: min, roundMilliseconds: 1_000, maxRounds: maxRounds),
            modelHash: base)
    }

    static func online(_ m: inout Machine, _ devices: [String], now: Int64 = 0) -> [Machine.Action] {
        devices.flatMap { m.handle(.deviceOnline($0, now: now)) }
    }

    static func announced(_ actions: [Machine.Action]) -> Machine.Plan? {
        for case .announce(let plan) in actions { return plan }
        return nil
    }

    @Test("an aggregation that failed starts the next round on the same model; a stale or repeated report is ignored")
    func aggregationFailed() {
        var m = Self.machine(min: 1)
        _ = Self.online(&m, ["a"])
        _ = m.handle(.start(now: 0))
        #expect(
            m.handle(.update(device: "a", round: 1, baseModelHash: Self.base, now: 1)).last
                == .aggregate(round: 1, participants: ["a"]))
        #expect(m.handle(.aggregationFailed(round: 7, now: 2)).isEmpty)
        let next = m.handle(.aggregationFailed(round: 1, now: 2))
        #expect(Self.announced(next)?.round == 2 && Self.announced(next)?.modelHash == Self.base)
        #expect(m.completedRounds == 0 && m.phase == .collecting)
        #expect(m.handle(.aggregationFailed(round: 1, now: 3)).isEmpty)
        // Buffered: the same model version is collected again.
        var buffered = Self.machine(min: 1, mode: .buffered(bufferSize: 1, maxStaleness: 0))
        _ = buffered.handle(.start(now: 0))
        _ = buffered.handle(.update(device: "a", round: 1, baseModelHash: Self.base, now: 1))
        let again = buffered.handle(.aggregationFailed(round: 1, now: 2))
        #expect(Self.announced(again)?.round == 1 && Self.announced(again)?.modelHash == Self.base)
    }

    @Test("an open round accepts each online device once and aggregates when all reported")
    func openRound() {
        var m = Self.machine(min: 2)
        _ = Self.online(&m, ["a", "b", "c"])
        let plan = Self.announced(m.handle(.start(now: 0)))
        #expect(plan?.round == 1 && plan?.deadline == 1_000 && plan?.devices == [] && plan?.modelHash == Self.base)
        #expect(
            m.handle(.update(device: "a", round: 1, baseModelHash: Self.base, now: 10))
                == [.accept(device: "a", round: 1, staleness: 0)])
        #expect(
            m.handle(.update(device: "a", round: 1, baseModelHash: Self.base, now: 11)).isEmpty,
            "an update already counted changes nothing")
        _ = m.handle(.update(device: "b", round: 1, baseModelHash: Self.base, now: 12))
        #expect(m.phase == .collecting)  // c is still expected
        let last = m.handle(.update(device: "c", round: 1, baseModelHash: Self.base, now: 13))
        #expect(
            last == [
                .accept(device: "c", round: 1, staleness: 0), .aggregate(round: 1, participants: ["a", "b", "c"]),
            ])
        #expect(
            m.handle(.update(device: "d", round: 1, baseModelHash: Self.base, now: 14))
                == [.reject(device: "d", round: 1, reason: .lateRound)])
        let next = m.handle(.aggregated(round: 1, modelHash: 77, now: 20))
        #expect(Self.announced(next)?.round == 2 && Self.announced(next)?.modelHash == 77)
        #expect(
            m.handle(.update(device: "a", round: 2, baseModelHash: Self.base, now: 21))
                == [.reject(device: "a", round: 2, reason: .staleModel)])
        #expect(
            m.handle(.update(device: "a", round: 3, baseModelHash: 77, now: 21))
                == [.reject(device: "a", round: 3, reason: .futureRound)])
        #expect(
            m.handle(.update(device: "a", round: 1, baseModelHash: Self.base, now: 22))
                == [.reject(device: "a", round: 1, reason: .lateRound)])
    }

    @Test("the deadline aggregates what arrived if it is enough, else fails and starts the next round")
    func deadline() {
        var m = Self.machine(min: 2)
        _ = Self.online(&m, ["a", "b", "c"])
        _ = m.handle(.start(now: 0))
        _ = m.handle(.update(device: "a", round: 1, baseModelHash: Self.base, now: 5))
        #expect(m.handle(.tick(now: 999)) == [])
        let failed = m.handle(.tick(now: 1_000))
        #expect(failed.first == .fail(round: 1, accepted: ["a"]))
        #expect(Self.announced(failed)?.round == 2 && Self.announced(failed)?.modelHash == Self.base)
        _ = m.handle(.update(device: "a", round: 2, baseModelHash: Self.base, now: 1_100))
        _ = m.handle(.update(device: "b", round: 2, baseModelHash: Self.base, now: 1_200))
        #expect(m.handle(.tick(now: 2_000)) == [.aggregate(round: 2, participants: ["a", "b"])])
    }

    @Test("a device that goes offline is no longer waited for")
    func dropOut() {
        var m = Self.machine(min: 1)
        _ = Self.online(&m, ["a", "b"])
        _ = m.handle(.start(now: 0))
        _ = m.handle(.update(device: "a", round: 1, baseModelHash: Self.base, now: 1))
        #expect(m.handle(.deviceOffline("b", now: 2)) == [.aggregate(round: 1, participants: ["a"])])
    }

    @Test("selection by count and fraction is seeded, waits for enough devices, and refuses the unselected")
    func selection() {
        var m = Self.machine(Selection(mode: .count, value: 2, seed: 42), min: 3)
        #expect(Self.online(&m, ["d1", "d2"]) == [])  // not started yet
        #expect(m.handle(.start(now: 0)) == [])  // 2 online < min 3: wait
        let plan = Self.announced(Self.online(&m, ["d3"]))
        #expect(plan?.round == 1 && plan?.devices.count == 2)
        var same = Self.machine(Selection(mode: .count, value: 2, seed: 42), min: 3)
        _ = Self.online(&same, ["d3", "d1", "d2"])
        #expect(Self.announced(same.handle(.start(now: 0)))?.devices == plan?.devices)
        let seeds = (1...20).map { seed -> [String] in
            var other = Self.machine(Selection(mode: .count, value: 2, seed: UInt64(seed)), min: 3)
            _ = Self.online(&other, ["d1", "d2", "d3"])
            return Self.announced(other.handle(.start(now: 0)))?.devices ?? []
        }
        #expect(Set(seeds).count > 1)  // the seed matters
        let outsider = ["d1", "d2", "d3"].first { !(plan?.devices ?? []).contains($0) }!
        #expect(
            m.handle(.update(device: outsider, round: 1, baseModelHash: Self.base, now: 1))
                == [.reject(device: outsider, round: 1, reason: .notSelected)])
        var fraction = Self.machine(Selection(mode: .fraction, value: 0.5, seed: 1))
        _ = Self.online(&fraction, (1...10).map { "f\($0)" })
        #expect(Self.announced(fraction.handle(.start(now: 0)))?.devices.count == 5)
    }

    @Test("a restored machine resumes the round it was in, with its accepted updates")
    func restore() {
        var m = Self.machine(min: 2)
        _ = Self.online(&m, ["a", "b"])
        _ = m.handle(.start(now: 0))
        _ = m.handle(.update(device: "a", round: 1, baseModelHash: Self.base, now: 1))
        var resumed = RoundMachine(configuration: m.configuration, restoring: m.snapshot)
        #expect(resumed.snapshot == m.snapshot)
        #expect(Self.announced(resumed.handle(.start(now: 5)))?.round == 1)
        #expect(
            resumed.handle(.update(device: "a", round: 1, baseModelHash: Self.base, now: 6)).isEmpty)
        #expect(
            resumed.handle(.update(device: "b", round: 1, baseModelHash: Self.base, now: 7)).last
                == .aggregate(round: 1, participants: ["a", "b"]))
        var aggregating = RoundMachine(configuration: m.configuration, restoring: resumed.snapshot)
        #expect(aggregating.handle(.start(now: 8)) == [.aggregate(round: 1, participants: ["a", "b"])])
    }

    @Test("maxRounds ends the run")
    func finish() {
        var m = Self.machine(maxRounds: 1)
        _ = Self.online(&m, ["a"])
        _ = m.handle(.start(now: 0))
        _ = m.handle(.update(device: "a", round: 1, baseModelHash: Self.base, now: 1))
        #expect(m.handle(.aggregated(round: 1, modelHash: 5, now: 2)) == [.finish])
        #expect(m.phase == .finished)
    }

    @Test("buffered mode (FedBuff): staleness within the window is accepted and reported, older is refused")
    func buffered() {
        var m = Self.machine(min: 1, mode: .buffered(bufferSize: 2, maxStaleness: 1))
        #expect(Self.announced(m.handle(.start(now: 0)))?.round == 1)
        _ = m.handle(.update(device: "a", round: 1, baseModelHash: Self.base, now: 1))
        let full = m.handle(.update(device: "b", round: 1, baseModelHash: Self.base, now: 2))
        #expect(full.last == .aggregate(round: 1, participants: ["a", "b"]))
        #expect(Self.announced(m.handle(.aggregated(round: 1, modelHash: 11, now: 3)))?.round == 2)
        // Trained on version 1 while version 2 is current: staleness 1.
        #expect(
            m.handle(.update(device: "c", round: 1, baseModelHash: Self.base, now: 4))
                == [.accept(device: "c", round: 1, staleness: 1)])
        #expect(
            m.handle(.update(device: "d", round: 1, baseModelHash: 999, now: 4))
                == [.reject(device: "d", round: 1, reason: .staleModel)])
        _ = m.handle(.update(device: "e", round: 2, baseModelHash: 11, now: 5))
        _ = m.handle(.aggregated(round: 2, modelHash: 12, now: 6))
        #expect(
            m.handle(.update(device: "f", round: 1, baseModelHash: Self.base, now: 7))
                == [.reject(device: "f", round: 1, reason: .tooStale)])
        // A partly filled buffer is flushed after the round time.
        _ = m.handle(.update(device: "g", round: 3, baseModelHash: 12, now: 10))
        #expect(m.handle(.tick(now: 500)) == [])
        #expect(m.handle(.tick(now: 1_010)) == [.aggregate(round: 3, participants: ["g"])])
    }
}
