import MQTT
import Testing
import TributaryMath
import TributaryTestSupport

extension BrokerSuite {
    @Suite struct RoundTrips {
        @Test(
            "a message round trips at every QoS over MQTT 3.1.1 and 5",
            arguments: MQTTQoS.allCases, [MQTTProtocolVersion.v311, .v5])
        func roundTrip(qos: MQTTQoS, version: MQTTProtocolVersion) async throws {
            try await withBroker { broker in
                let subscriber = try await broker.connectedClient("sub", version: version)
                let publisher = try await broker.connectedClient("pub", version: version)
                let collector = MessageCollector(subscriber)
                let granted = try await subscriber.subscribe("t/roundtrip", qos: qos)
                #expect(granted == qos)
                let payloads: [[UInt8]] = (0..<20).map { numberedPayload(UInt64($0), size: 32 + $0) }
                for payload in payloads {
                    try await publisher.publishConfirmed("t/roundtrip", payload: payload, qos: qos)
                }
                let received = await collector.wait(for: payloads.count)
                #expect(received.map(\.payload) == payloads)
                #expect(received.allSatisfy { $0.topic == "t/roundtrip" && $0.qos == qos && !$0.retain })
                #expect(publisher.inFlight == 0)
                await publisher.disconnect()
                await subscriber.disconnect()
            }
        }

        @Test("a retained message reaches a subscriber that arrives later, flagged as retained")
        func retained() async throws {
            try await withBroker { broker in
                let publisher = try await broker.connectedClient("pub")
                try await publisher.publishConfirmed(
                    "t/retained", payload: Array("spec v1".utf8), qos: .atLeastOnce,
                    retain: true)
                await publisher.disconnect()
                let late = try await broker.connectedClient("late")
                let collector = MessageCollector(late)
                try await late.subscribe("t/retained")
                let received = await collector.wait(for: 1)
                #expect(received.count == 1)
                #expect(received.first?.payload == Array("spec v1".utf8))
                #expect(received.first?.retain == true)
                await late.disconnect()
            }
        }

        @Test("an 8 MiB payload round trips intact")
        func largePayload() async throws {
            try await withBroker { broker in
                let subscriber = try await broker.connectedClient("sub")
                let publisher = try await broker.connectedClient("pub")
                let collector = MessageCollector(subscriber)
                try await subscriber.subscribe("t/big")
                var generator = SplitMix64(seed: 42)
                let payload = (0..<(8 << 20)).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
                try await publisher.publishConfirmed("t/big", payload: payload)
                let received = await collector.wait(for: 1, timeout: .seconds(30))
                #expect(received.first?.payload.count == payload.count)
                #expect(received.first?.payload == payload)
                await publisher.disconnect()
                await subscriber.disconnect()
            }
        }

        @Test("a hot-path handler gets matching payloads on the network thread; other topics go to the stream")
        func hotPath() async throws {
            try await withBroker { broker in
                let subscriber = try await broker.connectedClient("sub")
                let publisher = try await broker.connectedClient("pub")
                let tally = ReceivedTally()
                let collector = MessageCollector(subscriber)
                try await subscriber.subscribe("dev/+/sensor/#", qos: .atMostOnce) { topic, payload in
                    if String(cString: topic).hasPrefix("dev/") { tally.record(payloadNumber(payload)) }
                }
                try await subscriber.subscribe("control/#")
                for n in 0..<500 {
                    try await publisher.publish(
                        "dev/d\(n % 3)/sensor/imu", payload: numberedPayload(UInt64(n), size: 64),
                        qos: .atMostOnce)
                }
                try await publisher.publishConfirmed("control/round", payload: Array("r1".utf8))
                let control = await collector.wait(for: 1)
                #expect(await eventually { tally.count == 500 })
                #expect(tally.distinct == Set(0..<500))
                #expect(control.map(\.topic) == ["control/round"])
                await publisher.disconnect()
                await subscriber.disconnect()
            }
        }

        @Test("after unsubscribing, messages on that filter stop arriving; other subscriptions continue")
        func unsubscribe() async throws {
            try await withBroker { broker in
                let subscriber = try await broker.connectedClient("sub")
                let publisher = try await broker.connectedClient("pub")
                let collector = MessageCollector(subscriber)
                try await subscriber.subscribe("t/a")
                try await subscriber.subscribe("t/b")
                try await publisher.publishConfirmed("t/a", payload: [1])
                _ = await collector.wait(for: 1)
                try await subscriber.unsubscribe("t/a")
                try await publisher.publishConfirmed("t/a", payload: [2])
                try await publisher.publishConfirmed("t/b", payload: [3])
                let received = await collector.wait(for: 2)
                try await Task.sleep(for: .milliseconds(200))
                #expect(received.map(\.payload) == [[1], [3]])
                #expect(collector.messages.count == 2)
                await publisher.disconnect()
                await subscriber.disconnect()
            }
        }

        @Test("MQTT 5 user properties and message expiry travel with the message")
        func properties() async throws {
            try await withBroker { broker in
                let subscriber = try await broker.connectedClient("sub", version: .v5)
                let publisher = try await broker.connectedClient("pub", version: .v5)
                let collector = MessageCollector(subscriber)
                try await subscriber.subscribe("t/props")
                let properties = MQTTPublishProperties(
                    messageExpiry: 600,
                    userProperties: [MQTTUserProperty("task", "har"), MQTTUserProperty("round", "7")]
                )
                try await publisher.publishConfirmed("t/props", payload: [1, 2, 3], properties: properties)
                let received = await collector.wait(for: 1)
                #expect(received.first?.properties.userProperties == properties.userProperties)
                let expiry = try #require(received.first?.properties.messageExpiry)
                #expect(expiry > 590 && expiry <= 600)
                await publisher.disconnect()
                await subscriber.disconnect()
            }
        }

        @Test("message properties on an MQTT 3.1.1 connection are a typed notSupported error")
        func propertiesNeedV5() async throws {
            try await withBroker { broker in
                let client = try await broker.connectedClient("v3")
                let error = await #expect(throws: MQTTError.self) {
                    try await client.publish("t/x", payload: [1], properties: .init(messageExpiry: 5))
                }
                #expect(error?.code == .notSupported)
                #expect(error?.isRetriable == false)
                #expect(client.inFlight == 0)
                await client.disconnect()
            }
        }
    }
}
