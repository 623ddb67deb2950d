import AggregatorService
import Federation
import Foundation
import Testing
import UpdateCodec

/// The state database stays bounded however long a task runs, and floods of refusals leave no trace but counts.
@Suite struct RetentionTests {
    /// Rounds of one device, each aggregated at once (an accelerated task): `count` of them.
    func run(_ core: AggregatorCore, rounds count: Int, from start: [Outgoing]) throws {
        var announcement = try RoundAnnouncement.decode(try #require(start.on("tributary/v1/fl/t1/round").last).payload)
        for step in 0..<count {
            let now = Int64(step + 1) * 10
            CoreTests.send(
                core, device: "a", round: announcement.round, weight: 1, update: ([UInt32(step % 8)], [0.001]),
                base: announcement.modelHash.value, now: now)
            let out = try core.commit(now: now)
            core.idle()
            announcement = try RoundAnnouncement.decode(try #require(out.on("tributary/v1/fl/t1/round").last).payload)
        }
    }

    /// Bytes of the state database and of its write-ahead log.
    func sizes(_ directory: String) -> (database: Int, log: Int) {
        let bytes = ["aggregator.sqlite", "aggregator.sqlite-wal"].map {
            (try? FileManager.default.attributesOfItem(atPath: directory + "/" + $0))?[.size] as? Int ?? 0
        }
        return (bytes[0], bytes[1])
    }

    /// Rounds of the bounded-history test: 10,000 in the suite, more from `tools/soak`
    /// (`TRIBUTARY_SOAK_ROUNDS`).
    static let rounds = ProcessInfo.processInfo.environment["TRIBUTARY_SOAK_ROUNDS"].flatMap(Int.init) ?? 10_000

    @Test("10,000 rounds with keep_rounds 100: the database stays under 512 KiB (its log under 5 MiB), newest kept")
    func boundedHistory() throws {
        let directory = temporaryDirectory()
        var config = testConfig(stateDir: directory + "/state", minParticipants: 1)
        config.limits.keepRounds = 100
        let core = try AggregatorCore(config: config, metrics: AggregatorMetrics(), logger: quietLogger)
        CoreTests.online(core, ["a"], now: 0)
        let start = try core.start(now: 0)
        try run(core, rounds: 1_000, from: start)
        let early = sizes(directory + "/state")
        try run(core, rounds: Self.rounds - 1_000, from: try core.retained())
        let late = sizes(directory + "/state")
        print(
            "retention: \(Self.rounds) rounds, keep_rounds 100: database \(late.database) bytes, log \(late.log) bytes (\(early.database) and \(early.log) after 1,000)"
        )
        #expect(core.round == UInt32(Self.rounds + 1))
        #expect(late.database < 512 << 10, "database \(late.database) bytes after \(Self.rounds) rounds")
        #expect(late.log < 5 << 20, "write-ahead log \(late.log) bytes after \(Self.rounds) rounds")
        // Bounded, not merely small: the rounds after the first 1,000 grew the file by less than a tenth of what
        // those made.
        #expect(
            late.database - early.database <= early.database / 10,
            "\(early.database) bytes after 1,000 rounds, \(late.database) after \(Self.rounds)")
        let kept = try core.stateStore.recentMetrics(task: "t1", limit: 1_000)
        #expect(kept.count <= 200 && kept.count >= 100, "\(kept.count) rounds of metrics kept")
        #expect(try RoundMetrics.decode(try #require(kept.first)).round == UInt32(Self.rounds))
    }

    @Test("development mode: 1,000 garbage updates from 300 invented ids add no device row and no answer")
    func garbageFromInventedIDs() throws {
        let directory = temporaryDirectory()
        let core = try AggregatorCore(
            config: testConfig(stateDir: directory + "/state", minParticipants: 1), metrics: AggregatorMetrics(),
            logger: quietLogger)
        CoreTests.online(core, ["a"], now: 0)
        _ = try core.start(now: 0)
        var random = SystemRandomNumberGenerator()
        for i in 0..<1_000 {
            let garbage = (0..<120).map { _ in UInt8.random(in: 0...255, using: &random) }
            garbage.withUnsafeBytes { core.receive(update: $0, topic: "tributary/v1/fl/t1/update/x\(i % 300)", now: 1) }
        }
        let out = try core.commit(now: 2)
        #expect(out.filter { $0.topic.contains("/ack/") }.isEmpty)
        #expect(try core.stateStore.knownDevices() == ["a"])
        #expect(try core.stateStore.rejectionCounts(task: "t1").values.reduce(0, +) == 1_000)
    }

    @Test("development mode: past limits.max_devices a new id is refused as fleet_full, a known one still counts")
    func maxDevices() throws {
        let directory = temporaryDirectory()
        var config = testConfig(stateDir: directory + "/state", minParticipants: 1)
        config.limits.maxDevices = 3
        let metrics = AggregatorMetrics()
        let core = try AggregatorCore(config: config, metrics: metrics, logger: quietLogger)
        CoreTests.online(core, ["a", "b", "c", "d", "e"], now: 0)
        _ = try core.start(now: 0)
        #expect(try core.stateStore.knownDevices() == ["a", "b", "c"])
        #expect(metrics.text.contains(#"tributary_updates_rejected_total{reason="fleet_full"} 2"#))
    }
}
