import AggregatorService
import Federation
import Foundation
import Synchronization
import Testing
import TributaryTestSupport
import Trust
import UpdateCodec

/// Floods from clients that are not devices of the fleet, on a broker that lets them publish anywhere (TLS
/// without client certificates or an ACL: the aggregator's own checks are all that stands in the way).
@Suite(.serialized) struct InventedDeviceFloodTests {
    @Test("1,000 garbage updates from 300 invented ids and 50 fake online statuses: no rows, no answers, rounds close")
    func inventedDevices() async throws {
        var options = MosquittoBroker.Options()
        options.tls = true
        try await withBroker(options) { broker in
            let directory = temporaryDirectory()
            let aggregatorKey = try SigningKey.generate()
            let keyPath = directory + "/aggregator.key"
            try Data(try aggregatorKey.pem()).write(to: URL(fileURLWithPath: keyPath))
            let keys = ["a": try SigningKey.generate(), "b": try SigningKey.generate()]
            let registryPath = directory + "/registry.json"
            try TrustCoreTests.Rig.writeRegistry(
                [("a", .active), ("b", .active)], aggregator: aggregatorKey, keys: keys, to: registryPath)
            // Production, and a deadline far beyond the test's patience: a round must close because its devices
            // answered, never by waiting out fakes.
            var config = testConfig(stateDir: directory + "/state", minParticipants: 2, duration: 600)
            config.insecure = false
            config.trust.signingKey = keyPath
            config.trust.registry = registryPath
            config.broker = broker.settings
            try config.validate()
            let application = try buildAggregator(configuration: config, logger: quietLogger)
            let running = Task { try await application.run(handlingSignals: false) }
            let observer = try await Observer(broker: broker)
            let a = try await TestDevice("a", broker: broker)
            let b = try await TestDevice("b", broker: broker)
            for device in [a, b] { try await device.announce("online", signedBy: keys[device.id]) }
            let strays = Mutex<Int>(0)
            let listener = try await broker.connectedClient("listener")
            try await listener.subscribe(Topics(task: "t1").ack("+"), qos: .atLeastOnce) { topic, _ in
                let device = String(cString: topic).split(separator: "/").last.map(String.init) ?? ""
                if device != "a" && device != "b" { strays.withLock { $0 += 1 } }
            }
            let first = try #require(await observer.waitForRound(1))
            for device in [a, b] {
                let sent = try await device.send(signedUpdate(device.id, round: 1, first, keys), round: 1)
                // Accepted, or (a resend crossed a slow acknowledgement) a duplicate of the accepted one.
                #expect([.accepted, .duplicate].contains(sent.ack?.status), "\(String(describing: sent.ack))")
            }
            let second = try #require(await observer.waitForRound(2, timeout: .seconds(60)))

            // The flood: fake online statuses (retained; unsigned, or signed by a key of nobody's), then garbage
            // and well-formed updates signed by a stranger, from invented ids.
            let flooder = try await broker.connectedClient("flooder")
            let stranger = try SigningKey.generate()
            for i in 0..<50 {
                let json = DeviceStatus(device: "ghost\(i)", state: "online").json
                try await flooder.publish(
                    "tributary/v1/dev/ghost\(i)/status",
                    payload: i % 2 == 0 ? json : SignedJSON.seal(json, with: stranger),
                    qos: .atLeastOnce, retain: true)
            }
            var random = SystemRandomNumberGenerator()
            for i in 0..<1_000 {
                let id = "fake\(i % 300)"
                let payload =
                    i % 2 == 0
                    ? (0..<200).map { _ in UInt8.random(in: 0...255, using: &random) }
                    : SignedMessage.sign(
                        updateMessage(
                            round: 2, device: id, weight: 1, indices: [1], values: [0.5], dimension: 8,
                            base: second.modelHash.value), with: stranger)
                try await flooder.publish(Topics(task: "t1").update(id), payload: payload, qos: .atLeastOnce)
            }
            _ = await flooder.drain()

            // The enrolled devices' round closes as soon as they answered: nobody else was expected.
            for device in [a, b] {
                let sent = try await device.send(signedUpdate(device.id, round: 2, second, keys), round: 2)
                // Accepted, or (a resend crossed a slow acknowledgement) a duplicate of the accepted one.
                #expect([.accepted, .duplicate].contains(sent.ack?.status), "\(String(describing: sent.ack))")
            }
            #expect(await observer.waitForRound(3, timeout: .seconds(60)) != nil, "round 2 waited for the fakes")
            #expect(observer.metrics()?.accepted == ["a", "b"])
            let store = try StateStore(path: directory + "/state/aggregator.sqlite")
            let known = try store.knownDevices()
            #expect(known.isSubset(of: ["a", "b"]), "\(known)")
            let rejected = try store.rejectionSources(task: "t1")
            #expect(Set(rejected.keys) == [StateStore.unknownSource], "\(rejected)")
            #expect((rejected[StateStore.unknownSource]?.values.reduce(0, +) ?? 0) >= 1_000)
            #expect(strays.withLock { $0 } == 0, "acknowledgements published to invented ids")
            running.cancel()
            _ = try? await running.value
            for client in [listener, flooder] { await client.disconnect() }
            for device in [a, b] { await device.close() }
            await observer.close()
        }
    }

    /// An update of `device` for the announced round, signed by its key.
    func signedUpdate(_ device: String, round: UInt32, _ announcement: RoundAnnouncement, _ keys: [String: SigningKey])
        -> [UInt8]
    {
        SignedMessage.sign(
            updateMessage(
                round: round, device: device, weight: 1, indices: [0, 3], values: [0.5, -0.25], dimension: 8,
                base: announcement.modelHash.value), with: keys[device]!)
    }
}
