import MQTT
import Testing
import TributaryTestSupport

extension BrokerSuite {
    @Suite struct Sessions {
        @Test("the last will is published when a client dies without DISCONNECT, and not after a clean disconnect")
        func lastWill() async throws {
            try await withBroker { broker in
                let watcher = try await broker.connectedClient("watcher")
                let collector = MessageCollector(watcher)
                try await watcher.subscribe("dev/+/status")

                var clean = broker.clientConfiguration("clean")
                clean.will = MQTTWill(topic: "dev/clean/status", payload: Array("offline".utf8))
                let polite = try MQTTClient(configuration: clean)
                try await polite.connect()
                await polite.disconnect()

                var dying = broker.clientConfiguration("dying")
                dying.will = MQTTWill(topic: "dev/dying/status", payload: Array("offline".utf8), qos: .atLeastOnce)
                let victim = try MQTTClient(configuration: dying)
                try await victim.connect()
                await victim.abort()

                let received = await collector.wait(for: 1)
                #expect(received.map(\.topic) == ["dev/dying/status"])
                #expect(received.first?.payload == Array("offline".utf8))
                // Give a wrongly published clean will time to show up.
                try await Task.sleep(for: .milliseconds(300))
                #expect(!collector.messages.contains { $0.topic == "dev/clean/status" })
                await watcher.disconnect()
            }
        }

        @Test("subscribed before connecting, to a session the broker kept: the subscription is still made")
        func subscribeBeforeResumedSession() async throws {
            try await withBroker { broker in
                let configuration = broker.clientConfiguration("resumed", cleanSession: false)
                let first = try MQTTClient(configuration: configuration)
                try await first.connect()
                try await first.subscribe("t/old", qos: .atLeastOnce)
                await first.disconnect()

                let publisher = try await broker.connectedClient("pub")
                try await publisher.publishConfirmed("t/new", payload: Array("retained".utf8), retain: true)

                // The way a service starts: connect in the background, subscribe at once (before the CONNACK).
                let second = try MQTTClient(configuration: configuration)
                let collector = MessageCollector(second)
                let events = EventRecorder(second)
                second.start()
                try await second.subscribe("t/new", qos: .atLeastOnce)
                #expect(await eventually { events.events.contains(.connected(sessionPresent: true)) })
                let received = await collector.wait(for: 1)
                #expect(received.map(\.topic) == ["t/new"], "the retained message comes with the subscription")
                await second.disconnect()
                await publisher.disconnect()
            }
        }

        @Test("a persistent session receives the QoS 1 messages published while it was offline")
        func persistentSession() async throws {
            try await withBroker { broker in
                let configuration = broker.clientConfiguration("durable", cleanSession: false)
                let first = try MQTTClient(configuration: configuration)
                try await first.connect()
                try await first.subscribe("t/durable", qos: .atLeastOnce)
                await first.disconnect()

                let publisher = try await broker.connectedClient("pub")
                for n in 0..<50 {
                    try await publisher.publishConfirmed("t/durable", payload: numberedPayload(UInt64(n), size: 16))
                }
                await publisher.disconnect()

                let second = try MQTTClient(configuration: configuration)
                let collector = MessageCollector(second)
                let events = EventRecorder(second)
                try await second.connect()
                let received = await collector.wait(for: 50)
                #expect(received.count == 50)
                #expect(received.map { $0.payload.withUnsafeBytes(payloadNumber) } == (0..<50).map(UInt64.init))
                #expect(await eventually { events.events.contains(.connected(sessionPresent: true)) })
                await second.disconnect()
            }
        }

        @Test("after a broker restart the client reconnects by itself, renews its subscription and delivery resumes")
        func reconnectAfterRestart() async throws {
            try await withBroker { broker in
                let subscriber = try await broker.connectedClient("sub")
                let publisher = try await broker.connectedClient("pub")
                let events = EventRecorder(subscriber)
                let collector = MessageCollector(subscriber)
                try await subscriber.subscribe("t/restart")
                try await publisher.publishConfirmed("t/restart", payload: [1])
                _ = await collector.wait(for: 1)

                try await broker.restart()
                #expect(await eventually(timeout: .seconds(15)) { subscriber.isConnected && publisher.isConnected })
                // Clean session: the broker forgot the subscription; the client must have renewed it.
                #expect(
                    await eventually {
                        events.events.contains { if case .disconnected(let e) = $0 { e != nil } else { false } }
                    })
                var delivered = false
                for _ in 0..<50 where !delivered {
                    try await publisher.publishConfirmed("t/restart", payload: [2])
                    delivered = await eventually(timeout: .milliseconds(200)) {
                        collector.messages.contains { $0.payload == [2] }
                    }
                }
                #expect(delivered)
                #expect(subscriber.reconnectAttempts >= 1)
                await publisher.disconnect()
                await subscriber.disconnect()
            }
        }

        @Test("QoS 1 messages published while the broker is down are kept, bounded, and delivered after it returns")
        func boundedWhileOffline() async throws {
            try await withBroker { broker in
                let durable = broker.clientConfiguration("sub", cleanSession: false)
                let subscriber = try MQTTClient(configuration: durable)
                let tally = ReceivedTally()
                try await subscriber.connect()
                try await subscriber.subscribe("t/offline", qos: .atLeastOnce) { _, payload in
                    tally.record(payloadNumber(payload))
                }
                var configuration = broker.clientConfiguration("pub")
                configuration.maxInFlight = 4
                let publisher = try MQTTClient(configuration: configuration)
                try await publisher.connect()

                await broker.stop()
                #expect(await eventually { !publisher.isConnected })
                for n in 0..<4 {
                    try await publisher.publish("t/offline", payload: numberedPayload(UInt64(n), size: 8))
                }
                #expect(publisher.inFlight == 4)
                let full = #expect(throws: MQTTError.self) {
                    try [UInt8](repeating: 0, count: 8).withUnsafeBytes {
                        try publisher.tryPublish("t/offline", payload: $0, qos: .atLeastOnce)
                    }
                }
                #expect(full?.code == .inFlightLimitReached)
                #expect(full?.isRetriable == true)

                try await broker.launch()
                #expect(await eventually(timeout: .seconds(15)) { tally.distinct == Set(0..<4) })
                #expect(await eventually { publisher.inFlight == 0 })
                await publisher.disconnect()
                await subscriber.disconnect()
            }
        }

        @Test("a shared subscription splits messages between two subscribers, none lost and none duplicated")
        func sharedSubscription() async throws {
            try await withBroker { broker in
                let a = try await broker.connectedClient("shard-a")
                let b = try await broker.connectedClient("shard-b")
                let tallyA = ReceivedTally()
                let tallyB = ReceivedTally()
                try await a.subscribe("$share/aggregators/fl/task/update/+") { _, p in tallyA.record(payloadNumber(p)) }
                try await b.subscribe("$share/aggregators/fl/task/update/+") { _, p in tallyB.record(payloadNumber(p)) }
                let publisher = try await broker.connectedClient("pub")
                let total = 1_000
                for n in 0..<total {
                    try await publisher.publish(
                        "fl/task/update/dev\(n % 17)", payload: numberedPayload(UInt64(n), size: 32))
                }
                #expect(await eventually { tallyA.count + tallyB.count >= total })
                #expect(tallyA.count > 0 && tallyB.count > 0)
                #expect(tallyA.distinct.isDisjoint(with: tallyB.distinct))
                #expect(tallyA.distinct.union(tallyB.distinct) == Set((0..<total).map(UInt64.init)))
                #expect(tallyA.duplicated == 0 && tallyB.duplicated == 0)
                await publisher.disconnect()
                await a.disconnect()
                await b.disconnect()
            }
        }
    }
}

/// Records a client's connection events.
final class EventRecorder: Sendable {
    private let recorded = Locked<[MQTTConnectionEvent]>([])
    private let task: Task<Void, Never>

    init(_ client: MQTTClient) {
        let stream = client.events
        task = Task { [recorded] in
            for await event in stream { recorded.withLock { $0.append(event) } }
        }
    }

    deinit { task.cancel() }

    var events: [MQTTConnectionEvent] { recorded.withLock { $0 } }
}
