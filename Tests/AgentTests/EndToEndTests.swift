import Federation
import Foundation
import Glibc
import Testing
import TributaryTestSupport

/// `tributary-agent` processes with `tributary-aggregator` against a real Mosquitto: rounds, failures, a rogue.
@Suite(.serialized) struct EndToEndTests {
    @Test("5 agents and the aggregator, 5 rounds: hold-out accuracy rises and every update is accounted for")
    func rounds() async throws {
        try await withBroker { broker in
            let statuses = try await withFleet(broker) { fleet in
                #expect(await fleet.waitForRoundEnd(5), "\(fleet.logs)")
                expectAccounted(fleet, rounds: 1...5, everyone: 1...5)
                // Each agent built exactly one update per round, and had each accepted once.
                for device in fleet.devices {
                    #expect(
                        await eventually(timeout: .seconds(10)) {
                            fleet.watcher.status(device)?.metrics?["updates_sent"] == 5
                        }, "\(device): \(String(describing: fleet.watcher.status(device)))")
                    #expect(fleet.watcher.acks(device: device).filter { $0.status == .accepted }.count == 5)
                    #expect(fleet.watcher.summaryFrames(device) > 0, "\(device) published no summary")
                }
                // Hold-out accuracy on each device's held-out windows: the first global model each evaluated, against
                // the final one (the model after round 5 is the one round 6 would train on).
                let finalModel = try #require(fleet.watcher.metrics(5)?.modelHash)
                #expect(
                    await eventually(timeout: .seconds(10)) {
                        fleet.devices.allSatisfy { fleet.watcher.status($0)?.modelHash == finalModel }
                            && fleet.watcher.meanAccuracy(model: 6)?.devices == 5
                    }, "\(fleet.watcher.state.withLock { $0.accuracy })")
                let before = try #require(fleet.watcher.meanFirstAccuracy())
                let after = try #require(fleet.watcher.meanAccuracy(model: 6))
                #expect(after.mean > before.mean + 0.05, "hold-out accuracy \(before.mean) → \(after.mean)")
                #expect(after.mean > 0.6, "4 classes: chance is 0.25")
            }
            #expect(statuses.values.allSatisfy { $0 == 0 }, "SIGTERM: exit statuses \(statuses)")
        }
    }

    @Test("an agent killed mid-round: the round completes without it; restarted, it resumes and rejoins")
    func agentKilled() async throws {
        try await withBroker { broker in
            var setup = Fleet.Setup()
            setup.minParticipants = 4
            setup.rounds = 6
            setup.roundSeconds = 6
            try await withFleet(broker, setup) { fleet in
                #expect(await eventually(timeout: .seconds(60)) { fleet.watcher.announced(2) }, "\(fleet.logs)")
                await fleet.killAgent("d3")
                #expect(await fleet.waitForRoundEnd(2), "\(fleet.logs)")
                try fleet.startAgent("d3")
                #expect(await fleet.waitForRoundEnd(6), "\(fleet.logs)")
                expectAccounted(fleet, rounds: 1...6, everyone: [1])
                // The restarted agent reads its state at the first specification it receives, which may come after
                // the last round ended (rounds take milliseconds here).
                #expect(
                    await eventually(timeout: .seconds(30)) {
                        fleet.log("agent-d3").contains("resumed from saved state")
                    }, "\(fleet.log("agent-d3"))")
                let rejoined = (3...6).contains { fleet.watcher.metrics(UInt32($0))?.accepted.contains("d3") == true }
                #expect(rejoined, "d3 took part in no round after its restart: \(fleet.logs)")
            }
        }
    }

    @Test("the broker restarted mid-round: every round completes with every device, nothing counted twice")
    func brokerRestarted() async throws {
        try await withBroker { broker in
            var setup = Fleet.Setup()
            setup.rounds = 4
            try await withFleet(broker, setup) { fleet in
                #expect(await eventually(timeout: .seconds(60)) { fleet.watcher.announced(2) }, "\(fleet.logs)")
                try await broker.restart()
                #expect(await fleet.waitForRoundEnd(4), "\(fleet.logs)")
                expectAccounted(fleet, rounds: 1...4, everyone: 1...4)
            }
        }
    }

    @Test("kill -9 the aggregator mid-round and restart it: the round resumes, nothing lost or counted twice")
    func aggregatorKilled() async throws {
        try await withBroker { broker in
            var setup = Fleet.Setup()
            setup.rounds = 4
            try await withFleet(broker, setup) { fleet in
                // Mid-round: once round 2 has accepted an update (committed before its acknowledgement).
                #expect(
                    await eventually(timeout: .seconds(60)) {
                        fleet.watcher.acks(round: 2).contains { $0.status == .accepted }
                    }, "\(fleet.logs)")
                await fleet.killAggregator()
                try fleet.startAggregator()
                #expect(await fleet.waitForRoundEnd(4), "\(fleet.logs)")
                #expect(fleet.log("aggregator").contains("resuming task har at round"))
                expectAccounted(fleet, rounds: 1...4, everyone: 1...4)
            }
        }
    }

    @Test("a sparse downlink: devices follow deltas through an aggregator kill -9, and end on the published model")
    func sparseDownlink() async throws {
        try await withBroker { broker in
            var setup = Fleet.Setup()
            setup.devices = 3
            setup.minParticipants = 3
            setup.rounds = 4
            setup.downlinkKFraction = 0.25
            try await withFleet(broker, setup) { fleet in
                #expect(await fleet.waitForRoundEnd(2), "\(fleet.logs)")
                await fleet.killAggregator()
                try fleet.startAggregator()
                #expect(await fleet.waitForRoundEnd(4), "\(fleet.logs)")
                expectAccounted(fleet, rounds: 1...4, everyone: 1...4)
                // Every device holds the model the aggregator announces, built from deltas after the first.
                let finalModel = try #require(fleet.watcher.metrics(4)?.modelHash)
                #expect(
                    await eventually(timeout: .seconds(10)) {
                        fleet.devices.allSatisfy {
                            fleet.watcher.status($0)?.modelHash == finalModel
                                && fleet.watcher.status($0)?.metrics?["model_deltas"] ?? 0 >= 3
                        }
                    }, "\(fleet.devices.map { fleet.watcher.status($0).map { "\($0)" } ?? "-" })")
                let (models, deltas) = fleet.watcher.state.withLock { ($0.modelSizes, $0.deltaSizes) }
                #expect(deltas.count >= 4, "deltas seen: \(deltas)")
                let full = try #require(models.max())
                #expect(deltas.allSatisfy { $0 * 2 < full }, "deltas \(deltas) against a \(full)-byte model")
                // The participants' hold-out accuracies travel in their updates and reach the round's metrics.
                let metrics = try #require(fleet.watcher.metrics(4))
                #expect(metrics.holdoutDevices == 3, "\(metrics)")
                #expect(metrics.holdoutAccuracy.map { (0...1).contains($0) } == true, "\(metrics)")
            }
        }
    }

    @Test("a rogue client's malformed update is counted with its reason, not answered; the round completes")
    func rogue() async throws {
        try await withBroker { broker in
            var setup = Fleet.Setup()
            setup.rounds = 2
            try await withFleet(broker, setup) { fleet in
                #expect(await eventually(timeout: .seconds(60)) { fleet.watcher.announced(1) }, "\(fleet.logs)")
                let rogue = try await broker.connectedClient("rogue")
                var rng = SystemRandomNumberGenerator()
                let garbage = (0..<300).map { _ in UInt8.random(in: 0...255, using: &rng) }
                try await rogue.publish(Topics(task: "har").update("rogue"), payload: garbage, qos: .atLeastOnce)
                #expect(await fleet.waitForRoundEnd(2), "\(fleet.logs)")
                // An id the aggregator does not know (no status, no valid update) gets no answer and no row.
                #expect(fleet.watcher.acks(device: "rogue").isEmpty)
                expectAccounted(fleet, rounds: 1...2, everyone: 1...2)
                let rejected = (1...2).compactMap { fleet.watcher.metrics(UInt32($0))?.rejected }
                    .reduce(0) { $0 + $1.values.reduce(0, +) }
                #expect(rejected == 1, "rejections counted in the rounds' metrics: \(rejected)")
                #expect(fleet.log("aggregator").contains("rogue"))
                await rogue.disconnect()
            }
        }
    }

    /// Every round aggregated; its weight is exactly one update's per accepted device (nothing counted twice);
    /// every device it counted did send an update for it (seen on the wire); a device was told `accepted` at most
    /// once per round, and only if the round counted it. (A device may never hear back: when the aggregator dies
    /// between committing an update and acknowledging it, and the round completes, the next announcement ends the
    /// matter.) In the rounds of `everyone`, all devices took part.
    func expectAccounted(
        _ fleet: Fleet, rounds: ClosedRange<Int>, everyone: some Sequence<Int>,
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        let all = Set(fleet.devices)
        for round in rounds.map(UInt32.init) {
            guard let metrics = fleet.watcher.metrics(round) else {
                Issue.record("no metrics for round \(round)", sourceLocation: sourceLocation)
                continue
            }
            #expect(metrics.status == .aggregated, "round \(round): \(metrics)", sourceLocation: sourceLocation)
            #expect(
                metrics.totalWeight == Double(fleet.setup.samples * metrics.accepted.count),
                "round \(round): weight \(metrics.totalWeight) for \(metrics.accepted)", sourceLocation: sourceLocation)
            let acks = fleet.watcher.acks(round: round)
            let accepted = acks.filter { $0.status == .accepted }.map(\.device)
            #expect(accepted.count == Set(accepted).count, "round \(round): \(acks)", sourceLocation: sourceLocation)
            #expect(Set(accepted).isSubset(of: metrics.accepted), "round \(round)", sourceLocation: sourceLocation)
            let senders = fleet.watcher.senders(round: round)
            #expect(
                Set(metrics.accepted).isSubset(of: senders), "round \(round): sent by \(senders)",
                sourceLocation: sourceLocation)
            #expect(Set(metrics.accepted).isSubset(of: all), "round \(round)", sourceLocation: sourceLocation)
        }
        for round in everyone.map(UInt32.init) {
            #expect(
                fleet.watcher.metrics(round).map { Set($0.accepted) } == all, "round \(round)",
                sourceLocation: sourceLocation)
        }
    }
}
