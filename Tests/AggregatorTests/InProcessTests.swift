import AggregatorService
import Federation
import Foundation
import Glibc
import Testing
import TributaryTestSupport
import UpdateCodec

/// The aggregator built in the test process exactly as the executable builds it (`buildAggregator`), against a
/// real Mosquitto: the service logic without spawning a process.
@Suite(.serialized) struct InProcessTests {
    func configuration(broker: MosquittoBroker, directory: String, httpPort: Int) throws -> AggregatorConfig {
        var config = try ConfigLoader.parse(
            yaml: aggregatorYAML(
                port: broker.port, stateDir: directory + "/state", httpPort: httpPort, minParticipants: 2))
        config.limits.maxUpdateBytes = 2_048
        try config.validate()
        return config
    }

    @Test("a round over MQTT in-process: accepted, aggregated, /status served; an oversized update is too_large")
    func rounds() async throws {
        try await withBroker { broker in
            let directory = temporaryDirectory()
            let httpPort = try FreePort.pick()
            let application = try buildAggregator(
                configuration: try configuration(broker: broker, directory: directory, httpPort: httpPort),
                logger: quietLogger)
            let running = Task { try await application.run(handlingSignals: false) }
            let observer = try await Observer(broker: broker)
            let a = try await TestDevice("a", broker: broker)
            let b = try await TestDevice("b", broker: broker)
            let c = try await TestDevice("c", broker: broker)
            let announcement = try #require(await observer.waitForRound(1))
            // c was online once (so the aggregator knows it and answers it), and is offline now.
            try await c.announce("online")
            try await c.announce("offline")
            // Far over the limit: refused without being decoded, to the round it claims.
            let huge =
                updateMessage(
                    round: 1, device: "c", weight: 1, indices: Array(0..<7), values: [Float](repeating: 1, count: 7),
                    dimension: 8, base: announcement.modelHash.value) + [UInt8](repeating: 0, count: 4_096)
            let refused = try await c.send(huge, round: 1)
            #expect(
                refused.ack?.status == .rejected && refused.ack?.reason == "too_large",
                "\(String(describing: refused.ack))")
            for (device, weight) in [(a, UInt32(1)), (b, UInt32(3))] {
                let payload = updateMessage(
                    round: 1, device: device.id, weight: weight, indices: [0, 3], values: [1, -1], dimension: 8,
                    base: announcement.modelHash.value)
                let ack = try await device.send(payload, round: 1).ack
                #expect(ack?.status == .accepted, "\(String(describing: ack))")
            }
            #expect(await observer.waitForRound(2) != nil)
            #expect(observer.metrics()?.accepted == ["a", "b"] && observer.metrics()?.status == .aggregated)
            let status = try #require(httpGet(port: httpPort, path: "/status"))
            #expect(status.0 == 200 && status.1.contains("\"round\":2") && status.1.contains("\"role\":\"single\""))
            let metrics = try #require(httpGet(port: httpPort, path: "/metrics"))
            #expect(metrics.1.contains("tributary_updates_rejected_total{reason=\"too_large\"} 1"))
            running.cancel()
            // Cancelled, the group shuts down gracefully (its run ends with the cancellation).
            if case .failure(let error) = await running.result { #expect(error is CancellationError, "\(error)") }
            #expect(httpGet(port: httpPort, path: "/status") == nil, "the status server stopped with the group")
            await a.close()
            await b.close()
            await c.close()
            await observer.close()
        }
    }

    /// What a flood did: round 1's acknowledgements to the honest devices, whether round 2 was announced, and
    /// `/metrics` afterwards.
    struct Flooded {
        var acks: [UpdateAck?]
        var nextRound: Bool
        var metrics: String
    }

    /// Starts the aggregator with `limits` changed, floods device c's update topic with `count` junk updates as
    /// fast as its client sends them (then one more, confirmed), then has a and b send their round-1 updates.
    func flood(_ count: Int, limits change: (inout AggregatorConfig.Limits) -> Void) async throws -> Flooded {
        try await withBroker { broker in
            let httpPort = try FreePort.pick()
            var config = try configuration(broker: broker, directory: temporaryDirectory(), httpPort: httpPort)
            change(&config.limits)
            let application = try buildAggregator(configuration: config, logger: quietLogger)
            let running = Task { try await application.run(handlingSignals: false) }
            let observer = try await Observer(broker: broker)
            let a = try await TestDevice("a", broker: broker)
            let b = try await TestDevice("b", broker: broker)
            let c = try await TestDevice("c", broker: broker)
            let announcement = try #require(await observer.waitForRound(1))
            // c is a device the aggregator knows (it was online once), so its junk is answered.
            try await c.announce("online")
            try await c.announce("offline")
            let junk = [UInt8](repeating: 7, count: 24)
            for _ in 0..<count { try await c.client.publish(c.topics.update(c.id), payload: junk, qos: .atMostOnce) }
            try await c.client.publishConfirmed(c.topics.update(c.id), payload: junk)
            var acks: [UpdateAck?] = []
            for (device, weight) in [(a, UInt32(1)), (b, UInt32(3))] {
                let payload = updateMessage(
                    round: 1, device: device.id, weight: weight, indices: [0, 3], values: [1, -1], dimension: 8,
                    base: announcement.modelHash.value)
                acks.append(try await device.send(payload, round: 1, timeout: .seconds(90)).ack)
            }
            let nextRound = await observer.waitForRound(2) != nil
            let metrics = httpGet(port: httpPort, path: "/metrics")?.1 ?? ""
            running.cancel()
            _ = await running.result
            for device in [a, b, c] { await device.close() }
            await observer.close()
            return Flooded(acks: acks, nextRound: nextRound, metrics: metrics)
        }
    }

    @Test("a device flooding its update topic is held to its budget: few answers, the round still completes")
    func floodedTopic() async throws {
        let flooded = try await flood(5_000) {
            $0.updateBurst = 10
            $0.updatesPerDeviceS = 1
        }
        // Accepted, or (a resend crossed an acknowledgement slowed by the flood) a duplicate of the accepted one.
        #expect(flooded.acks.allSatisfy { [.accepted, .duplicate].contains($0?.status) }, "\(flooded.acks)")
        #expect(flooded.nextRound)
        let lines = flooded.metrics.split(separator: "\n")
        let answered = lines.filter {
            $0.hasPrefix("tributary_updates_rejected_total") && !$0.contains("too_large")
        }.compactMap { $0.split(separator: " ").last.flatMap { Int($0) } }.reduce(0, +)
        #expect(answered >= 1 && answered <= 40, "junk decoded and answered: \(answered) of 5,001")
        let dropped = try #require(
            lines.first { $0.hasPrefix("tributary_rate_limited_total") }
                .flatMap { $0.split(separator: " ").last }.flatMap { Double($0) })
        #expect(dropped >= 2_500, "\(dropped) dropped before the inbox")
    }

    @Test(
        "a flood within the budget and past a small inbox: the aggregator keeps reading its acknowledgements' PUBACKs")
    func floodPastInbox() async throws {
        // Every junk update the inbox takes is answered: far more answers than the 4,096 publications the
        // aggregator keeps in flight.
        let flooded = try await flood(30_000) {
            $0.updateBurst = 1_000_000
            $0.updatesPerDeviceS = 1_000_000
            $0.inboxMessages = 32
        }
        // Accepted, or (a resend crossed an acknowledgement slowed by the flood) a duplicate of the accepted one.
        #expect(flooded.acks.allSatisfy { [.accepted, .duplicate].contains($0?.status) }, "\(flooded.acks)")
        #expect(flooded.nextRound)
    }

    @Test("the status port taken: the aggregator does not start (it says so) instead of running without it")
    func portTaken() async throws {
        try await withBroker { broker in
            let directory = temporaryDirectory()
            // Something else listens there.
            let holder = try #require(listenLoopback())
            defer { close(holder.fd) }
            let httpPort = holder.port
            let application = try buildAggregator(
                configuration: try configuration(broker: broker, directory: directory, httpPort: httpPort),
                logger: quietLogger)
            await #expect(throws: (any Error).self) { try await application.run(handlingSignals: false) }
        }
    }
}
