import MQTT
import Testing
import TributaryTestSupport

extension BrokerSuite {
    @Suite struct NoSilentLoss {
        static let floodSize = 100_000

        @Test("a flood of 100,000 QoS 1 messages to an offline persistent subscriber all arrive (our broker limits)")
        func floodArrives() async throws {
            let delivered = try await flood(options: MosquittoBroker.Options(), payloadSize: 1_024)
            #expect(delivered.distinct == Set((0..<Self.floodSize).map(UInt64.init)))
        }

        @Test("with Mosquitto's default queue limit the same flood loses messages: why our configs set it")
        func defaultLimitDrops() async throws {
            var options = MosquittoBroker.Options()
            options.maxQueuedMessages = 1_000
            options.maxInflightMessages = 20
            let delivered = try await flood(options: options, payloadSize: 64, settle: .seconds(2))
            #expect(delivered.distinct.count < Self.floodSize)
            #expect(delivered.distinct.count >= 1_000)
        }

        /// Subscribes durably, goes offline, floods, comes back and counts what arrives.
        private func flood(
            options: MosquittoBroker.Options, payloadSize: Int, settle: Duration? = nil
        ) async throws -> ReceivedTally {
            try await withBroker(options) { broker in
                let configuration = broker.clientConfiguration("flood-sub", cleanSession: false)
                let first = try MQTTClient(configuration: configuration)
                try await first.connect()
                try await first.subscribe("t/flood", qos: .atLeastOnce)
                await first.disconnect()

                let publisher = try await broker.connectedClient("flood-pub")
                for n in 0..<Self.floodSize {
                    try await publisher.publish("t/flood", payload: numberedPayload(UInt64(n), size: payloadSize))
                }
                #expect(await eventually(timeout: .seconds(60)) { publisher.inFlight == 0 })
                await publisher.disconnect()

                let tally = ReceivedTally()
                let second = try MQTTClient(configuration: configuration)
                // Handlers survive in the client: register before connecting so nothing goes to the stream.
                try await second.subscribe("t/flood", qos: .atLeastOnce) { _, p in tally.record(payloadNumber(p)) }
                try await second.connect()
                if let settle {
                    var last = -1
                    while tally.count != last {
                        last = tally.count
                        try await Task.sleep(for: settle)
                    }
                } else {
                    _ = await eventually(timeout: .seconds(90)) { tally.distinctCount >= Self.floodSize }
                }
                await second.disconnect()
                return tally
            }
        }
    }
}
