import Federation
import Foundation
import Glibc
import MQTT
import Testing
import TributaryTestSupport
import UpdateCodec

/// The `tributary-aggregator` process against a real Mosquitto, with devices written in the test.
@Suite(.serialized) struct EndToEndTests {
    static let dimension = 8  // 7 weights + a bias

    @Test(
        "rounds complete over MQTT and the published model equals FedAvg; /status and /metrics answer; SIGTERM stops it"
    )
    func rounds() async throws {
        try await withBroker { broker in
            let directory = temporaryDirectory()
            let httpPort = try FreePort.pick()
            let aggregator = try AggregatorProcess(
                yaml: aggregatorYAML(
                    port: broker.port, stateDir: directory + "/state", httpPort: httpPort, minParticipants: 3),
                directory: directory)
            let observer = try await Observer(broker: broker)
            var devices: [TestDevice] = []
            for id in ["a", "b", "c"] { devices.append(try await TestDevice(id, broker: broker)) }
            var rng = TestRandom(7)
            guard var announcement = await observer.waitForRound(1) else {
                Issue.record("no round 1: \(aggregator.output)")
                return
            }
            var model = try #require(observer.model())
            for round in UInt32(1)...2 {
                var sent: [(Double, [UInt32], [Float])] = []
                for (i, device) in devices.enumerated() {
                    let u = randomUpdate(&rng, dimension: Self.dimension, k: 4)
                    let weight = UInt32(10 * (i + 1))
                    let payload = updateMessage(
                        round: round, device: device.id, weight: weight, indices: u.indices, values: u.values,
                        dimension: Self.dimension, base: announcement.modelHash.value)
                    let result = try await device.send(payload, round: round)
                    #expect(result.ack?.status == .accepted, "\(device.id) round \(round)")
                    sent.append((Double(weight), u.indices, u.values))
                }
                guard let next = await observer.waitForRound(round + 1) else {
                    Issue.record("no round \(round + 1): \(aggregator.output)")
                    return
                }
                let published = try #require(observer.model())
                let expected = fedAvgReference(model: model, updates: sent)
                for j in 0..<Self.dimension { #expect(abs(published[j] - expected[j]) <= 1e-6) }
                #expect(ModelHash.of(published) == next.modelHash.value)
                #expect(observer.metrics()?.accepted == ["a", "b", "c"])
                announcement = next
                model = published
            }
            // A malformed update is refused with its reason, and counted by reason in /metrics.
            var bad = updateMessage(
                round: 3, device: "a", weight: 1, indices: [0], values: [1], dimension: Self.dimension,
                base: announcement.modelHash.value)
            bad[bad.count - 1] ^= 1
            let refused = try await devices[0].send(bad, round: 3)
            #expect(refused.ack?.status == .rejected && refused.ack?.reason == "bad_checksum")
            let status = try #require(httpGet(port: httpPort, path: "/status"))
            #expect(status.0 == 200 && status.1.contains("\"round\":3"))
            let metrics = try #require(httpGet(port: httpPort, path: "/metrics"))
            #expect(metrics.1.contains("tributary_updates_accepted_total 6"))
            #expect(metrics.1.contains("tributary_updates_rejected_total{reason=\"bad_checksum\"} 1"))
            #expect(metrics.1.contains("tributary_rounds_total{status=\"aggregated\"} 2"))
            aggregator.process.send(SIGTERM)
            #expect(await aggregator.process.waitForExit(timeout: .seconds(20)) == 0)
            for device in devices { await device.close() }
            await observer.close()
        }
    }

    @Test("kill -9 mid-round, restart: the round resumes, nothing accepted is lost, nothing counts twice")
    func killed() async throws {
        try await withBroker { broker in
            let directory = temporaryDirectory()
            let yaml = aggregatorYAML(port: broker.port, stateDir: directory + "/state", minParticipants: 3)
            var aggregator = try AggregatorProcess(yaml: yaml, directory: directory)
            let observer = try await Observer(broker: broker)
            let announcement = try #require(await observer.waitForRound(1))
            let model = try #require(observer.model())
            var rng = TestRandom(8)
            let updates = (0..<3).map { _ in randomUpdate(&rng, dimension: Self.dimension, k: 5) }
            func payload(_ i: Int) -> [UInt8] {
                updateMessage(
                    round: 1, device: ["a", "b", "c"][i], weight: UInt32(i + 1), indices: updates[i].indices,
                    values: updates[i].values, dimension: Self.dimension, base: announcement.modelHash.value)
            }
            let a = try await TestDevice("a", broker: broker)
            let b = try await TestDevice("b", broker: broker)
            #expect(try await a.send(payload(0), round: 1).ack?.status == .accepted)
            #expect(try await b.send(payload(1), round: 1).ack?.status == .accepted)
            aggregator.process.send(SIGKILL)
            _ = await aggregator.process.waitForExit(timeout: .seconds(10))
            aggregator = try AggregatorProcess(yaml: yaml, directory: directory, name: "restarted")
            #expect(await aggregator.waitFor("resuming task t1 at round 1"))
            // a never saw its acknowledgement (say): it resends, and is told duplicate.
            a.acks.withLock { $0 = [:] }
            #expect(try await a.send(payload(0), round: 1).ack?.status == .duplicate)
            let c = try await TestDevice("c", broker: broker)
            #expect(try await c.send(payload(2), round: 1).ack?.status == .accepted)
            _ = try #require(await observer.waitForRound(2))
            let expected = fedAvgReference(
                model: model, updates: (0..<3).map { (Double($0 + 1), updates[$0].indices, updates[$0].values) })
            let published = try #require(observer.model())
            for j in 0..<Self.dimension { #expect(abs(published[j] - expected[j]) <= 1e-6) }
            #expect(observer.metrics()?.accepted == ["a", "b", "c"] && observer.metrics()?.totalWeight == 6)
            aggregator.process.send(SIGTERM)
            _ = await aggregator.process.waitForExit(timeout: .seconds(20))
            for device in [a, b, c] { await device.close() }
            await observer.close()
        }
    }

    @Test(
        "past the broker's queue limit: every update is eventually counted once, thanks to acknowledgements and resends"
    )
    func flood() async throws {
        var options = MosquittoBroker.Options()
        options.maxQueuedMessages = 20
        options.maxInflightMessages = 10
        try await withBroker(options) { broker in
            let directory = temporaryDirectory()
            let count = 200
            let aggregator = try AggregatorProcess(
                yaml: aggregatorYAML(
                    port: broker.port, stateDir: directory + "/state", minParticipants: count, duration: 300),
                directory: directory)
            let observer = try await Observer(broker: broker)
            let announcement = try #require(await observer.waitForRound(1))
            // Stall the aggregator so the broker's queue for it overflows and drops.
            aggregator.process.send(SIGSTOP)
            let publisher = try await broker.connectedClient("flood")
            let ids = (0..<count).map { "d\($0)" }
            for (i, id) in ids.enumerated() {
                let payload = updateMessage(
                    round: 1, device: id, weight: 1, indices: [UInt32(i % Self.dimension)], values: [1],
                    dimension: Self.dimension, base: announcement.modelHash.value)
                try await publisher.publish("tributary/v1/fl/t1/update/\(id)", payload: payload, qos: .atLeastOnce)
            }
            _ = await publisher.drain()
            aggregator.process.send(SIGCONT)
            // Devices that see no acknowledgement resend.
            var devices: [TestDevice] = []
            for id in ids { devices.append(try await TestDevice(id, broker: broker)) }
            var resent = 0
            try await withThrowingTaskGroup(of: Int.self) { group in
                for (i, device) in devices.enumerated() {
                    group.addTask {
                        let payload = updateMessage(
                            round: 1, device: device.id, weight: 1, indices: [UInt32(i % Self.dimension)], values: [1],
                            dimension: Self.dimension, base: announcement.modelHash.value)
                        // Give the first copy time to arrive before resending.
                        if await eventually(timeout: .seconds(5), { device.ack(1) != nil }) { return 0 }
                        let result = try await device.send(payload, round: 1, every: .seconds(3))
                        return result.ack == nil ? -1_000_000 : result.sends
                    }
                }
                for try await n in group { resent += n }
            }
            #expect(resent > 0, "the broker dropped nothing: the test did not overflow its queue")
            #expect(devices.allSatisfy { [.accepted, .duplicate].contains($0.ack(1)?.status) })
            _ = try #require(await observer.waitForRound(2, timeout: .seconds(60)))
            let metrics = try #require(observer.metrics())
            #expect(metrics.accepted.count == count && Set(metrics.accepted).count == count)
            #expect(metrics.totalWeight == Double(count))
            aggregator.process.send(SIGTERM)
            _ = await aggregator.process.waitForExit(timeout: .seconds(20))
            for device in devices { await device.close() }
            await publisher.disconnect()
            await observer.close()
        }
    }

    @Test("two shards and a root, on one Mosquitto, give the model one aggregator gives")
    func shards() async throws {
        try await withBroker { broker in
            let directory = temporaryDirectory()
            let count = 8
            let root = try AggregatorProcess(
                yaml: aggregatorYAML(
                    port: broker.port, stateDir: directory + "/root", minParticipants: count, duration: 60,
                    role: "root",
                    shards: ["s1", "s2"], clientID: "root"),
                directory: directory, name: "root")
            let shards = try ["s1", "s2"].map { id in
                try AggregatorProcess(
                    yaml: aggregatorYAML(
                        port: broker.port, stateDir: directory + "/\(id)", minParticipants: 1, role: "shard",
                        shardID: id, clientID: id),
                    directory: directory, name: id)
            }
            let observer = try await Observer(broker: broker)
            let announcement = try #require(await observer.waitForRound(1))
            for shard in shards { #expect(await shard.waitFor("following round 1")) }
            let model = try #require(observer.model())
            var rng = TestRandom(9)
            var sent: [(Double, [UInt32], [Float])] = []
            var devices: [TestDevice] = []
            for i in 0..<count {
                let device = try await TestDevice("d\(i)", broker: broker)
                devices.append(device)
                let u = randomUpdate(&rng, dimension: Self.dimension, k: 3)
                let weight = UInt32(1 + i)
                let payload = updateMessage(
                    round: 1, device: device.id, weight: weight, indices: u.indices, values: u.values,
                    dimension: Self.dimension, base: announcement.modelHash.value)
                #expect(try await device.send(payload, round: 1).ack?.status == .accepted)
                sent.append((Double(weight), u.indices, u.values))
            }
            _ = try #require(await observer.waitForRound(2, timeout: .seconds(60)))
            let published = try #require(observer.model())
            let expected = fedAvgReference(model: model, updates: sent)
            for j in 0..<Self.dimension { #expect(abs(published[j] - expected[j]) <= 1e-6) }
            #expect(observer.metrics()?.accepted.count == count)
            // Both shards took part: the shared subscription split the devices between them.
            var forwarded = 0
            for shard in shards {
                #expect(await shard.waitFor("following round 2"))
                let line = shard.output.split(separator: "\n").first { $0.contains("round 1 forwarded: ") }
                let n = line.flatMap { Int($0.split(separator: " ").dropLast().last ?? "") } ?? 0
                #expect(n > 0, "\(shard.log)")
                forwarded += n
            }
            #expect(forwarded == count)
            for process in shards + [root] {
                process.process.send(SIGTERM)
                _ = await process.process.waitForExit(timeout: .seconds(20))
            }
            for device in devices { await device.close() }
            await observer.close()
        }
    }
}
