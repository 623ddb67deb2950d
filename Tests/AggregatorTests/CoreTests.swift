import AggregatorService
import Federation
import Foundation
import Testing
import UpdateCodec

@Suite struct CoreTests {
    static func send(
        _ core: AggregatorCore, device: String, round: UInt32, weight: UInt32,
        update: (indices: [UInt32], values: [Float]),
        base: UInt64, now: Int64, dimension: Int = 8
    ) {
        let bytes = updateMessage(
            round: round, device: device, weight: weight, indices: update.indices, values: update.values,
            dimension: dimension, base: base)
        bytes.withUnsafeBytes { core.receive(update: $0, topic: "tributary/v1/fl/t1/update/\(device)", now: now) }
    }

    static func online(_ core: AggregatorCore, _ devices: [String], now: Int64) {
        for device in devices {
            _ = core.receive(
                status: DeviceStatus(device: device, state: "online").json,
                topic: "tributary/v1/dev/\(device)/status", now: now)
        }
    }

    @Test("rounds complete and the published model equals FedAvg computed independently")
    func rounds() throws {
        let config = testConfig(stateDir: temporaryDirectory())
        let core = try AggregatorCore(config: config, metrics: AggregatorMetrics(), logger: quietLogger)
        Self.online(core, ["a", "b", "c"], now: 0)
        let started = try core.start(now: 0)
        let round = try RoundAnnouncement.decode(started.on("tributary/v1/fl/t1/round").last!.payload)
        #expect(round.round == 1)
        var model = try modelParameters(started.on("tributary/v1/fl/t1/model")[0].payload).parameters
        #expect(ModelHash.of(model) == round.modelHash.value)
        var rng = TestRandom(1)
        var base = round.modelHash.value
        for r in 1...3 {
            var sent: [(Double, [UInt32], [Float])] = []
            for (device, weight) in [("a", 10), ("b", 30), ("c", 5)] {
                let u = randomUpdate(&rng, dimension: 8, k: 3)
                Self.send(core, device: device, round: UInt32(r), weight: UInt32(weight), update: u, base: base, now: 1)
                sent.append((Double(weight), u.indices, u.values))
            }
            let out = try core.commit(now: 2)
            #expect(out.acks().map(\.status) == [.accepted, .accepted, .accepted])
            let published = try modelParameters(out.on("tributary/v1/fl/t1/model").first!.payload).parameters
            let expected = fedAvgReference(model: model, updates: sent)
            for i in 0..<8 { #expect(abs(published[i] - expected[i]) <= 1e-6) }
            let metrics = try RoundMetrics.decode(out.on("tributary/v1/fl/t1/metrics").first!.payload)
            #expect(metrics.round == UInt32(r) && metrics.accepted == ["a", "b", "c"] && metrics.totalWeight == 45)
            let next = try RoundAnnouncement.decode(out.on("tributary/v1/fl/t1/round").first!.payload)
            #expect(next.round == UInt32(r + 1) && next.modelHash.value == ModelHash.of(published))
            model = published
            base = next.modelHash.value
        }
    }

    @Test("late, duplicate, malformed, mismatched and stale updates are refused with their reasons counted")
    func rejections() throws {
        let config = testConfig(stateDir: temporaryDirectory(), minParticipants: 2)
        let metrics = AggregatorMetrics()
        let core = try AggregatorCore(config: config, metrics: metrics, logger: quietLogger)
        Self.online(core, ["a", "b"], now: 0)
        let start = try core.start(now: 0)
        let base = try RoundAnnouncement.decode(start.on("tributary/v1/fl/t1/round").last!.payload).modelHash.value
        let u: (indices: [UInt32], values: [Float]) = ([1], [0.5])
        Self.send(core, device: "a", round: 1, weight: 1, update: u, base: base, now: 1)
        Self.send(core, device: "a", round: 1, weight: 1, update: u, base: base, now: 1)  // resend
        Self.send(core, device: "b", round: 1, weight: 1, update: u, base: 42, now: 1)  // stale model
        Self.send(core, device: "b", round: 0, weight: 1, update: u, base: base, now: 1)  // late round
        Self.send(core, device: "b", round: 1, weight: 1, update: u, base: base, now: 1, dimension: 9)  // wrong size
        var corrupt = updateMessage(
            round: 1, device: "b", weight: 1, indices: [1], values: [1], dimension: 8, base: base)
        corrupt[corrupt.count - 10] ^= 0xFF
        corrupt.withUnsafeBytes { core.receive(update: $0, topic: "tributary/v1/fl/t1/update/b", now: 1) }
        let other = updateMessage(round: 1, device: "x", weight: 1, indices: [1], values: [1], dimension: 8, base: base)
        other.withUnsafeBytes { core.receive(update: $0, topic: "tributary/v1/fl/t1/update/b", now: 1) }  // not b's
        let acks = try core.commit(now: 2).acks()
        #expect(acks.map(\.status) == [.accepted, .duplicate, .rejected, .rejected, .rejected, .rejected, .rejected])
        #expect(
            acks.compactMap(\.reason) == ["stale_model", "late_round", "mismatch", "bad_checksum", "device_mismatch"])
        let text = metrics.text
        for reason in ["stale_model", "late_round", "mismatch", "bad_checksum", "device_mismatch"] {
            #expect(text.contains("tributary_updates_rejected_total{reason=\"\(reason)\"} 1"), "\(reason)")
        }
        #expect(text.contains("tributary_updates_accepted_total 1"))
        #expect(text.contains("tributary_updates_duplicate_total 1"))
        #expect(core.pendingCount == 1)
    }

    @Test("a restart mid-round loses nothing and counts nothing twice")
    func restart() throws {
        let directory = temporaryDirectory()
        let config = testConfig(stateDir: directory, minParticipants: 3)
        var rng = TestRandom(2)
        let updates = (0..<3).map { _ in randomUpdate(&rng, dimension: 8, k: 4) }
        var base: UInt64 = 0
        var model: [Float] = []
        do {
            let core = try AggregatorCore(config: config, metrics: AggregatorMetrics(), logger: quietLogger)
            Self.online(core, ["a", "b", "c"], now: 0)
            let start = try core.start(now: 0)
            base = try RoundAnnouncement.decode(start.on("tributary/v1/fl/t1/round").last!.payload).modelHash.value
            model = try modelParameters(start.on("tributary/v1/fl/t1/model")[0].payload).parameters
            Self.send(core, device: "a", round: 1, weight: 2, update: updates[0], base: base, now: 1)
            Self.send(core, device: "b", round: 1, weight: 3, update: updates[1], base: base, now: 1)
            #expect(try core.commit(now: 1).acks().count == 2)
            // A third update staged but never committed: lost with the crash, never acknowledged.
            Self.send(core, device: "c", round: 1, weight: 4, update: updates[2], base: base, now: 1)
        }
        let core = try AggregatorCore(config: config, metrics: AggregatorMetrics(), logger: quietLogger)
        #expect(core.pendingCount == 2 && core.round == 1)
        let resumed = try core.start(now: 5)
        #expect(try RoundAnnouncement.decode(resumed.on("tributary/v1/fl/t1/round").last!.payload).round == 1)
        // a resends (its acknowledgement was lost): a duplicate, not a second count; c resends: accepted.
        Self.send(core, device: "a", round: 1, weight: 2, update: updates[0], base: base, now: 6)
        Self.send(core, device: "c", round: 1, weight: 4, update: updates[2], base: base, now: 6)
        let out = try core.commit(now: 6)
        #expect(out.acks().map(\.status) == [.duplicate, .accepted])
        let published = try modelParameters(out.on("tributary/v1/fl/t1/model").first!.payload).parameters
        let expected = fedAvgReference(
            model: model, updates: zip([2.0, 3, 4], updates).map { ($0, $1.indices, $1.values) })
        for i in 0..<8 { #expect(abs(published[i] - expected[i]) <= 1e-6) }
    }

    @Test("a round without enough updates by the deadline fails, keeps the model, and the next round starts")
    func failedRound() throws {
        let config = testConfig(stateDir: temporaryDirectory(), minParticipants: 2, duration: 1)
        let core = try AggregatorCore(config: config, metrics: AggregatorMetrics(), logger: quietLogger)
        Self.online(core, ["a", "b"], now: 0)
        let start = try core.start(now: 0)
        let base = try RoundAnnouncement.decode(start.on("tributary/v1/fl/t1/round").last!.payload).modelHash.value
        Self.send(core, device: "a", round: 1, weight: 1, update: ([0], [1]), base: base, now: 10)
        _ = try core.commit(now: 10)
        let out = try core.tick(now: 1_000)
        let metrics = try RoundMetrics.decode(out.on("tributary/v1/fl/t1/metrics").first!.payload)
        #expect(metrics.status == .failed && metrics.accepted == ["a"] && metrics.modelHash.value == base)
        let next = try RoundAnnouncement.decode(out.on("tributary/v1/fl/t1/round").first!.payload)
        #expect(next.round == 2 && next.modelHash.value == base)
        #expect(core.pendingCount == 0)
    }

    @Test("a state directory of another specification is refused with a clear error")
    func otherSpec() throws {
        let directory = temporaryDirectory()
        _ = try AggregatorCore(
            config: testConfig(stateDir: directory), metrics: AggregatorMetrics(), logger: quietLogger)
        var different = testConfig(testSpec(inputs: 9), stateDir: directory)
        different.task = testSpec(inputs: 9)
        #expect { try AggregatorCore(config: different, metrics: AggregatorMetrics(), logger: quietLogger) } throws: {
            "\($0)".contains("another specification")
        }
    }
}
