import Federation
import Foundation
import Glibc
import Testing
import TributaryTestSupport

/// The federation after failures of what it runs on: broker crashes (with and without persistence), a reset or
/// shared aggregator state, a broker that comes up after the aggregator. Real processes, a real Mosquitto.
@Suite(.serialized) struct RecoveryTests {
    /// Three devices, every round needs all three. Rounds are not paced (they take milliseconds here), so the
    /// task never ends while a test looks: it is stopped with the fleet.
    static func setup() -> Fleet.Setup {
        var setup = Fleet.Setup()
        setup.devices = 3
        setup.minParticipants = 3
        setup.rounds = 1_000_000
        return setup
    }

    /// Every round from `first` through `last` aggregated with every device of the fleet.
    func expectEveryone(
        _ fleet: Fleet, _ rounds: ClosedRange<UInt32>, sourceLocation: SourceLocation = #_sourceLocation
    ) {
        for round in rounds {
            let metrics = fleet.watcher.metrics(round)
            #expect(
                metrics?.status == .aggregated && metrics?.accepted == fleet.devices,
                "round \(round): \(String(describing: metrics))", sourceLocation: sourceLocation)
        }
    }

    /// The rounds of the models an agent adopted, from its log, in order.
    func adoptedRounds(_ fleet: Fleet, _ device: String) -> [UInt32] {
        fleet.log("agent-\(device)").split(separator: "\n").compactMap { line in
            guard let range = line.range(of: "adopted the global model for round ") else { return nil }
            return UInt32(line[range.upperBound...].prefix { $0.isNumber })
        }
    }

    @Test("broker kill -9, three times, restoring a stale snapshot: no agent adopts it, rounds go on with all")
    func brokerKilledWithPersistence() async throws {
        var options = MosquittoBroker.Options()
        // Saved only when stopped, as a broker with a long autosave interval: each kill restores an old snapshot.
        options.autosaveInterval = 3_600
        try await withBroker(options) { broker in
            try await withFleet(broker, Self.setup()) { fleet in
                #expect(await fleet.waitForRoundEnd(2), "\(fleet.logs)")
                // A clean stop saves the snapshot the kills will restore: its round and model grow old.
                try await broker.restart()
                let saved = fleet.watcher.lastRound()
                #expect(await fleet.waitForRoundEnd(saved + 3), "\(fleet.logs)")
                let aggregator = try #require(fleet.aggregator.withLock { $0 })
                for kill in 1...3 {
                    let before = fleet.watcher.lastRound()
                    if kill == 1 {
                        // While the aggregator cannot republish, an agent that starts subscribes and is handed the
                        // snapshot's stale round and model: it must recognise them.
                        aggregator.send(SIGSTOP)
                        await broker.kill()
                        try await broker.launch()
                        await fleet.killAgent("d3")
                        try fleet.startAgent("d3")
                        #expect(
                            await eventually(timeout: .seconds(30)) {
                                let metrics = fleet.watcher.status("d3")?.metrics ?? [:]
                                return (metrics["ignored_stale_round"] ?? 0) + (metrics["ignored_stale_model"] ?? 0) > 0
                            }, "d3: \(String(describing: fleet.watcher.status("d3")?.metrics)) \(fleet.log("agent-d3"))"
                        )
                        aggregator.send(SIGCONT)
                    } else {
                        await broker.kill()
                        try await broker.launch()
                    }
                    // Metrics published around the kill may be lost to the watcher; those after it are not.
                    #expect(await fleet.waitForRoundEnd(before + 4), "after kill \(kill): \(fleet.logs)")
                    expectEveryone(fleet, (before + 3)...(before + 4))
                }
                for device in fleet.devices {
                    let adopted = adoptedRounds(fleet, device)
                    #expect(adopted == adopted.sorted() && !adopted.isEmpty, "\(device) adopted \(adopted)")
                }
                #expect(
                    fleet.log("aggregator").contains("publishing the retained specification, model and round again"))
            }
        }
    }

    @Test("broker kill -9 without persistence, twice: the aggregator publishes its retained messages again")
    func brokerKilledWithoutPersistence() async throws {
        var options = MosquittoBroker.Options()
        options.persistence = false
        try await withBroker(options) { broker in
            try await withFleet(broker, Self.setup()) { fleet in
                #expect(await fleet.waitForRoundEnd(2), "\(fleet.logs)")
                for kill in 1...2 {
                    let before = fleet.watcher.lastRound()
                    // d3 starts afresh after the broker lost everything: it needs the specification and model,
                    // which only the aggregator's republication can give it.
                    await fleet.killAgent("d3")
                    await broker.kill()
                    try await broker.launch()
                    try fleet.startAgent("d3")
                    #expect(await fleet.waitForRoundEnd(before + 3), "after kill \(kill): \(fleet.logs)")
                    expectEveryone(fleet, (before + 3)...(before + 3))
                }
            }
        }
    }

    @Test("a fresh aggregator state is a new epoch: the existing agents join its first rounds")
    func freshState() async throws {
        try await withBroker { broker in
            try await withFleet(broker, Self.setup()) { fleet in
                #expect(await fleet.waitForRoundEnd(3), "\(fleet.logs)")
                let old = try #require(fleet.watcher.announcement(3)?.epoch)
                await fleet.killAggregator()
                try FileManager.default.removeItem(atPath: fleet.directory + "/aggregator")
                fleet.watcher.forgetRounds()
                try fleet.startAggregator()
                #expect(await fleet.waitForRoundEnd(2), "\(fleet.logs)")
                let new = try #require(fleet.watcher.announcement(1)?.epoch)
                #expect(new != old && new != 0)
                expectEveryone(fleet, 1...2)
                for device in fleet.devices {
                    #expect(fleet.log("agent-\(device)").contains("following federation epoch \(HexHash(new))"))
                }
            }
        }
    }

    @Test("a second aggregator on the same state exits naming the holder; a standby takes over when it dies")
    func oneAggregatorPerState() async throws {
        try await withBroker { broker in
            try await withFleet(broker, Self.setup()) { fleet in
                #expect(await fleet.waitForRoundEnd(1), "\(fleet.logs)")
                let first = try #require(fleet.aggregator.withLock { $0 })
                let config = fleet.directory + "/aggregator.yaml"
                let second = try ChildProcess(
                    builtExecutable("tributary-aggregator"), ["--config", config],
                    standardOutput: fleet.directory + "/second.log")
                #expect(await second.waitForExit(timeout: .seconds(60)) == 1, "\(fleet.log("second"))")
                #expect(
                    fleet.log("second").contains("in use by another aggregator (PID \(first.pid))"),
                    "\(fleet.log("second"))")
                let before = fleet.watcher.lastRound()
                #expect(await fleet.waitForRoundEnd(before + 1), "the first keeps its rounds: \(fleet.logs)")
                // A hot standby waits for the lock, and takes over when the holder dies.
                let standby = try ChildProcess(
                    builtExecutable("tributary-aggregator"), ["--config", config, "--standby"],
                    standardOutput: fleet.directory + "/standby.log")
                #expect(
                    await eventually(timeout: .seconds(60)) { fleet.log("standby").contains("waiting to take over") })
                await fleet.killAggregator()
                fleet.aggregator.withLock { $0 = standby }
                let taken = fleet.watcher.lastRound()
                #expect(await fleet.waitForRoundEnd(taken + 2), "the standby's rounds: \(fleet.logs)")
                #expect(fleet.log("standby").contains("resuming task har"), "\(fleet.log("standby"))")
            }
        }
    }

    @Test("an aggregator started before its broker connects when the broker comes up; rounds follow")
    func brokerAfterAggregator() async throws {
        try await withBroker { broker in
            try await withFleet(broker, Self.setup()) { fleet in
                #expect(await fleet.waitForRoundEnd(1), "\(fleet.logs)")
                await fleet.killAggregator()
                await broker.stop()
                try fleet.startAggregator()
                #expect(
                    await eventually(timeout: .seconds(60)) { fleet.log("aggregator").contains("not reachable yet") },
                    "\(fleet.log("aggregator"))")
                #expect(fleet.aggregator.withLock { $0?.isRunning } == true, "it waits instead of exiting")
                let before = fleet.watcher.lastRound()
                try await broker.launch()
                #expect(await fleet.waitForRoundEnd(before + 3), "\(fleet.logs)")
                expectEveryone(fleet, (before + 3)...(before + 3))
            }
        }
    }

    @Test("--connect-timeout: with no broker the aggregator gives up after it, with the reason")
    func connectTimeout() async throws {
        do {
            let directory = NSTemporaryDirectory() + "tributary-recovery-\(UUID().uuidString)"
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let port = try FreePort.pick()
            let yaml = """
                insecure: true
                broker: {host: 127.0.0.1, port: \(port)}
                state_dir: \(directory)/state
                http: {port: 0}
                task:
                  task: t1
                  model: {head: softmax, inputs: 6, outputs: 2}
                  data: {stream: imu, channels: [0], label_channel: 1, window_frames: 10, hop_frames: 10,
                         features: [mean, std, min, max, rms, zcr]}
                """
            try yaml.write(toFile: directory + "/a.yaml", atomically: true, encoding: .utf8)
            let process = try ChildProcess(
                builtExecutable("tributary-aggregator"), ["--config", directory + "/a.yaml", "--connect-timeout", "1"],
                standardOutput: directory + "/a.log")
            #expect(await process.waitForExit(timeout: .seconds(60)) == 1)
            let log = (try? String(contentsOfFile: directory + "/a.log", encoding: .utf8)) ?? ""
            #expect(log.contains("no broker at 127.0.0.1:\(port) within 1.0 s"), "\(log)")
        }
    }
}
