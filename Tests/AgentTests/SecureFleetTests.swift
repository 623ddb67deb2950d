import BrokerConnection
import Federation
import Foundation
import Glibc
import MQTT
import Provisioning
import Synchronization
import SystemSupport
import Testing
import TributaryTestSupport
import TributaryWire
import Trust
import UpdateCodec

/// The production configuration, provisioned by `tributary provision` and run on a real Mosquitto: every attack
/// of the trust issue, by a device that is enrolled ("mallory", no agent) or by someone who can write where the
/// broker's ACL should not let them, while real agents train. Round metrics, acknowledgements and statuses are read
/// by a provisioned read-only observer.
@Suite(.serialized) struct SecureFleetTests {
    static let dimension = 36 * 4 + 4

    /// Provisions d1…dN, the given extra devices and an observer; runs the broker on the fleet's own configuration
    /// (with `aclExtra` appended to its ACL), the aggregator and the agents in production mode.
    func withSecureFleet(
        _ setup: Fleet.Setup, extraDevices: [String] = ["mallory"], aclExtra: String = "",
        unregistered: [String] = [], _ body: (Fleet, Provisioner) async throws -> Void
    ) async throws {
        var template = Array("/tmp/tributary-secure-e2e-XXXXXX".utf8CString)
        let directory = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)!) }
        let provisioner = Provisioner(root: URL(fileURLWithPath: directory + "/fleet"))
        try provisioner.initialize(Provisioner.Settings())
        try provisioner.addDevices((1...setup.devices).map { "d\($0)" } + extraDevices + unregistered)
        try provisioner.addObserver("watcher")
        try provisioner.addObserver("auditor")
        if !aclExtra.isEmpty {
            let acl = try String(contentsOfFile: provisioner.layout.acl, encoding: .utf8)
            try (acl + aclExtra).write(toFile: provisioner.layout.acl, atomically: true, encoding: .utf8)
        }
        if !unregistered.isEmpty {
            // Certificates issued, but the aggregator's registry never heard of them.
            var registry = try FleetRegistry.decode(
                Array(try Data(contentsOf: URL(fileURLWithPath: provisioner.layout.registry))))
            registry.devices.removeAll { unregistered.contains($0.id) }
            try Data(registry.json).write(to: URL(fileURLWithPath: provisioner.layout.registry))
        }
        var options = MosquittoBroker.Options()
        options.provisioned = URL(fileURLWithPath: provisioner.layout.brokerConfiguration)
        try await withBroker(options) { broker in
            let fleet: Fleet
            do {
                fleet = try await Fleet(
                    broker: broker, setup: setup, fleet: provisioner.layout.root, directory: directory)
            } catch {
                Issue.record("the fleet did not start: \(error)\nbroker log:\n\(broker.log())")
                throw error
            }
            do { try await body(fleet, provisioner) } catch {
                _ = await fleet.stop()
                throw error
            }
            let statuses = await fleet.stop()
            #expect(statuses.values.allSatisfy { $0 == 0 }, "exit statuses \(statuses)")
        }
    }

    /// A client with a provisioned identity (asking for `clientID`; the broker gives it its username instead).
    func connect(_ fleet: Fleet, device: String, clientID: String? = nil) async throws -> MQTTClient {
        let settings = Fleet.identity(fleet.broker, fleet.fleet!, device: device)
        let client = try MQTTClient(
            configuration: try settings.mqttConfiguration(clientID: clientID ?? device, cleanSession: true))
        try await client.connect()
        return client
    }

    /// A signed (or not) update of `device` for the announced round.
    func update(
        _ provisioner: Provisioner, device: String, round: RoundAnnouncement, weight: UInt32 = 40,
        value: Float = 0.01, signature: Signing = .own
    ) throws -> [UInt8] {
        var encoder = try UpdateEncoder()
        let message = try encoder.encode(
            UpdateHeader(
                type: .update, task: "har", round: round.round, device: device, sampleWeight: weight,
                dimension: Self.dimension, baseModelHash: round.modelHash.value),
            indices: [0, 5, 9], values: [value, -value, value], valueEncoding: .float32)
        switch signature {
        case .own:
            let key = try SigningKey(
                pem: try FileIO.readAll(provisioner.layout.folder(device: device) + "/signing.key"))
            return SignStage(signer: key).apply(message)
        case .random:
            return SignStage(signer: try SigningKey.generate()).apply(message)
        case .none:
            return message
        }
    }

    enum Signing { case own, random, none }

    /// Whether a JSON message's `sig` member or a binary message's trailer verifies with `key`.
    static func verifies(_ payload: [UInt8], key: VerifyingKey) -> Bool {
        if payload.first == UInt8(ascii: "{") {
            guard case .success = SignedJSON.verify(payload, key: key) else { return false }
            return true
        }
        guard case .success = payload.withUnsafeBytes({ SignedMessage.verify($0, key: key) }) else { return false }
        return true
    }

    /// The reasons of the signed acknowledgements `client` received on its ack topic, verified with the
    /// aggregator's key.
    final class Acks: Sendable {
        let reasons = Mutex<[String]>([])
        let forged = Mutex(0)
    }

    func listen(acks client: MQTTClient, device: String, provisioner: Provisioner) async throws -> Acks {
        let key = try VerifyingKey(
            pem: try FileIO.readAll(provisioner.layout.folder(client: "aggregator") + "/signing.pub"))
        let acks = Acks()
        try await client.subscribe(Topics(task: "har").ack(device), qos: .atLeastOnce) { _, payload in
            guard case .success(let body) = SignedJSON.verify(Array(payload), key: key),
                let ack = try? UpdateAck.decode(body)
            else {
                acks.forged.withLock { $0 += 1 }
                return
            }
            acks.reasons.withLock { $0.append(ack.reason ?? ack.status.rawValue) }
        }
        return acks
    }

    @Test(
        "the broker: no anonymous client, no taking another's client id, no writing another's or the aggregator's topics"
    )
    func brokerEnforcesIdentity() async throws {
        var setup = Fleet.Setup()
        setup.devices = 2
        setup.minParticipants = 2
        setup.rounds = 2
        setup.roundSeconds = 20
        try await withSecureFleet(setup) { fleet, provisioner in
            let auditor = try await Watcher(
                broker: fleet.broker, settings: Fleet.identity(fleet.broker, fleet.fleet!, client: "auditor"),
                everything: true)
            defer { Task { await auditor.close() } }
            #expect(
                await eventually(timeout: .seconds(60)) { fleet.watcher.status("d1")?.state == "online" },
                "\(fleet.logs)")
            let topics = Topics(task: "har")

            // Without a client certificate: refused at the TLS handshake.
            let anonymous = BrokerSettings(
                host: fleet.broker.host, port: fleet.broker.port,
                transport: .tls(.init(caFile: provisioner.layout.caCertificate)))
            let stranger = try MQTTClient(
                configuration: try anonymous.mqttConfiguration(clientID: "stranger", cleanSession: true))
            await #expect(throws: MQTTError.self) { try await stranger.connect() }

            // mallory asks for d1's client id and writes d1's topics, the aggregator's and a subtopic of its own that
            // no device writes (where retained messages could pile up); then a marker on its status.
            let mallory = try await connect(fleet, device: "mallory", clientID: "agent-d1")
            let forged = Array("forged by mallory".utf8)
            for topic in [
                topics.update("d1"), topics.deviceStatus("d1"), topics.spec, topics.round, topics.model, topics.metrics,
                topics.ack("d1"), topics.modelDelta, "tributary/v1/dev/mallory/junk",
            ] {
                try await mallory.publishConfirmed(topic, payload: forged, qos: .atLeastOnce)
            }
            let marker = Array("marker \(UUID())".utf8)
            try await mallory.publishConfirmed(topics.deviceStatus("mallory"), payload: marker, qos: .atLeastOnce)
            #expect(
                await eventually(timeout: .seconds(30)) { auditor.raw(topics.deviceStatus("mallory")).contains(marker) }
            )
            for topic in [
                topics.update("d1"), topics.deviceStatus("d1"), topics.spec, topics.round, topics.model, topics.metrics,
                topics.ack("d1"), topics.modelDelta, "tributary/v1/dev/mallory/junk",
            ] {
                #expect(!auditor.raw(topic).contains(forged), "mallory wrote \(topic)")
            }
            // The retained specification is still the aggregator's.
            #expect(await eventually(timeout: .seconds(30)) { !auditor.raw(topics.spec).isEmpty })
            #expect(auditor.raw(topics.spec).allSatisfy { $0 != forged })
            // d1's session was not taken over: its will never fired.
            #expect(!fleet.watcher.states("d1").contains("offline"), "d1 went offline: \(fleet.watcher.states("d1"))")
            await mallory.disconnect()

            #expect(await fleet.waitForRoundEnd(2), "\(fleet.logs)")
            for round in UInt32(1)...2 {
                #expect(fleet.watcher.metrics(round)?.accepted == ["d1", "d2"], "round \(round)")
            }
            // Everything on the aggregator's topics is signed with its key; every status with its device's.
            let aggregator = try VerifyingKey(
                pem: try FileIO.readAll(provisioner.layout.folder(client: "aggregator") + "/signing.pub"))
            let seen = auditor.state.withLock { $0.raw }
            let published = seen.filter { $0.key.contains("/fl/") && !$0.key.contains("/update/") }
            #expect(Set(published.keys).isSuperset(of: [topics.spec, topics.round, topics.model, topics.metrics]))
            for (topic, payloads) in published {
                for payload in payloads {
                    #expect(
                        Self.verifies(payload, key: aggregator),
                        "\(topic) carries a message the aggregator did not sign")
                }
            }
            for device in ["d1", "d2"] {
                let key = try VerifyingKey(
                    pem: try FileIO.readAll(provisioner.layout.folder(device: device) + "/signing.pub"))
                let statuses = seen[topics.deviceStatus(device)] ?? []
                #expect(
                    !statuses.isEmpty && statuses.allSatisfy { Self.verifies($0, key: key) }, "\(device)'s statuses")
                let updates = seen[topics.update(device)] ?? []
                #expect(!updates.isEmpty && updates.allSatisfy { Self.verifies($0, key: key) }, "\(device)'s updates")
            }
        }
    }

    @Test(
        "an enrolled device's bad updates are refused with their reasons and the rounds complete with the right model")
    func aggregatorRefusesBadUpdates() async throws {
        var setup = Fleet.Setup()
        setup.devices = 2
        // mallory's good update closes each round: every attack lands in the round it was made in.
        setup.minParticipants = 3
        setup.rounds = 2
        setup.roundSeconds = 60
        try await withSecureFleet(setup, unregistered: ["ghost"]) { fleet, provisioner in
            #expect(await eventually(timeout: .seconds(60)) { fleet.watcher.announced(1) }, "\(fleet.logs)")
            #expect(await eventually(timeout: .seconds(60)) { !fleet.watcher.updates("d1").isEmpty })
            let round = try #require(fleet.watcher.announcement(1))
            let topics = Topics(task: "har")
            let mallory = try await connect(fleet, device: "mallory")
            let acks = try await listen(acks: mallory, device: "mallory", provisioner: provisioner)
            let attacks: [(String, [UInt8])] = [
                ("bad_signature", try update(provisioner, device: "mallory", round: round, signature: .random)),
                ("unsigned", try update(provisioner, device: "mallory", round: round, signature: .none)),
                ("weight_too_large", try update(provisioner, device: "mallory", round: round, weight: .max)),
                ("value_out_of_range", try update(provisioner, device: "mallory", round: round, value: 1e30)),
                // d1's round-1 update, sent again as mallory's.
                ("bad_signature", try #require(fleet.watcher.updates("d1").first)),
            ]
            for (_, payload) in attacks {
                try await mallory.publishConfirmed(topics.update("mallory"), payload: payload, qos: .atLeastOnce)
            }
            let ghost = try await connect(fleet, device: "ghost")
            let ghostAcks = try await listen(acks: ghost, device: "ghost", provisioner: provisioner)
            try await ghost.publishConfirmed(
                topics.update("ghost"), payload: try update(provisioner, device: "ghost", round: round),
                qos: .atLeastOnce)
            #expect(await eventually(timeout: .seconds(30)) { acks.reasons.withLock { $0.count } == attacks.count })
            #expect(acks.reasons.withLock { $0 }.sorted() == attacks.map(\.0).sorted())
            #expect(acks.forged.withLock { $0 } == 0)

            // Now a good update of mallory's: the round closes with it.
            try await mallory.publishConfirmed(
                topics.update("mallory"), payload: try update(provisioner, device: "mallory", round: round),
                qos: .atLeastOnce)
            #expect(await fleet.waitForRoundEnd(1), "\(fleet.logs)")
            let metrics = try #require(fleet.watcher.metrics(1))
            #expect(metrics.status == .aggregated && metrics.accepted == ["d1", "d2", "mallory"], "\(metrics)")
            #expect(metrics.rejected["bad_signature"] == 2 && metrics.rejected["weight_too_large"] == 1, "\(metrics)")
            #expect(metrics.rejected["value_out_of_range"] == 1 && metrics.rejected["unsigned"] == 1, "\(metrics)")
            #expect(metrics.rejected["unknown_device"] == 1, "\(metrics)")
            // The ghost was refused, and told nothing: the aggregator answers only devices it knows.
            #expect(ghostAcks.reasons.withLock { $0 }.isEmpty)
            await ghost.disconnect()
            // The same good update once more: a duplicate, refused or acknowledged as one, never counted twice.
            try await mallory.publishConfirmed(
                topics.update("mallory"), payload: try update(provisioner, device: "mallory", round: round),
                qos: .atLeastOnce)
            #expect(await eventually(timeout: .seconds(30)) { acks.reasons.withLock { $0.count } == attacks.count + 2 })
            let answers = acks.reasons.withLock { Array($0.suffix(2)) }
            #expect(answers.first == "accepted" && ["duplicate", "late_round"].contains(answers.last), "\(answers)")

            // The agents took the new model: their updates (and mallory's) close round 2.
            #expect(await eventually(timeout: .seconds(60)) { fleet.watcher.announced(2) }, "\(fleet.logs)")
            let second = try #require(fleet.watcher.announcement(2))
            #expect(second.modelHash == metrics.modelHash)
            try await mallory.publishConfirmed(
                topics.update("mallory"), payload: try update(provisioner, device: "mallory", round: second),
                qos: .atLeastOnce)
            await mallory.disconnect()
            #expect(await fleet.waitForRoundEnd(2), "\(fleet.logs)")
            #expect(fleet.watcher.metrics(2)?.accepted == ["d1", "d2", "mallory"])
            #expect(fleet.watcher.metrics(2)?.status == .aggregated)
        }
    }

    @Test(
        "a forged retained model and announcement are not adopted; a revoked device is refused after a broker restart")
    func forgedModelAndRevocation() async throws {
        var setup = Fleet.Setup()
        setup.devices = 2
        setup.minParticipants = 2
        setup.rounds = 3
        setup.roundSeconds = 20
        // As if the ACL let mallory write the aggregator's topics (a broker misconfigured, or not ours).
        let acl = "\nuser mallory\ntopic write tributary/v1/fl/har/model\ntopic write tributary/v1/fl/har/round\n"
        try await withSecureFleet(setup, aclExtra: acl) { fleet, provisioner in
            #expect(await eventually(timeout: .seconds(60)) { fleet.watcher.announced(1) }, "\(fleet.logs)")
            #expect(await eventually(timeout: .seconds(60)) { fleet.watcher.status("d1")?.modelHash != nil })
            let held = try #require(fleet.watcher.announcement(1)).modelHash
            let topics = Topics(task: "har")
            let mallory = try await connect(fleet, device: "mallory")
            var encoder = try UpdateEncoder()
            let poisoned = [Float](repeating: 1e30, count: Self.dimension)
            let model = try encoder.encodeModel(task: "har", round: 2, parameters: poisoned)
            let key = try SigningKey(
                pem: try FileIO.readAll(provisioner.layout.folder(device: "mallory") + "/signing.key"))
            // Signed by mallory's key, and unsigned: neither is the aggregator's.
            try await mallory.publishConfirmed(
                topics.model, payload: SignStage(signer: key).apply(model), qos: .atLeastOnce, retain: true)
            try await mallory.publishConfirmed(topics.model, payload: model, qos: .atLeastOnce, retain: true)
            var announcement = try #require(fleet.watcher.announcement(1))
            announcement.round = 2
            announcement.modelHash = HexHash(ModelHash.of(poisoned))
            try await mallory.publishConfirmed(
                topics.round, payload: SignedJSON.seal(announcement.json, with: key), qos: .atLeastOnce, retain: true)
            await mallory.disconnect()
            #expect(
                await eventually(timeout: .seconds(30)) {
                    let metrics = ["d1", "d2"].compactMap { fleet.watcher.status($0)?.metrics }
                    return metrics.count == 2
                        && metrics.allSatisfy { ($0["forged_control"] ?? 0) >= 2 && ($0["unsigned_control"] ?? 0) >= 1 }
                }, "\(fleet.logs)")
            #expect(["d1", "d2"].allSatisfy { fleet.watcher.status($0)?.modelHash?.value != ModelHash.of(poisoned) })
            #expect(fleet.watcher.status("d1")?.modelHash == held || fleet.watcher.announced(2))

            // Revoked: the aggregator refuses it at once; the broker once restarted.
            try provisioner.revoke(["mallory"])
            try await fleet.broker.restart()
            await #expect(throws: MQTTError.self) { _ = try await connect(fleet, device: "mallory") }
            #expect(await fleet.waitForRoundEnd(3), "\(fleet.logs)")
            for round in UInt32(1)...3 {
                let metrics = fleet.watcher.metrics(round)
                #expect(
                    metrics?.status == .aggregated && metrics?.accepted == ["d1", "d2"],
                    "round \(round): \(String(describing: metrics))")
            }
        }
    }

    @Test("a round whose aggregate is not finite fails, the model stays, and the next round aggregates")
    func nonFiniteRound() async throws {
        var setup = Fleet.Setup()
        setup.devices = 2
        // mallory's update is needed to close a round: it cannot arrive late.
        setup.minParticipants = 3
        setup.rounds = 2
        setup.roundSeconds = 60
        // Bounds loosened as far as they go, and a server step of 10: one legal update of 3e38, weighing what the
        // round asked for, overflows float32 (3e38 · 10 / 3 participants).
        setup.strategy =
            "{kind: fedavg, server_learning_rate: 10, clip_norm: null, adaptive_clip: null, max_abs_value: 3.0e38}"
        try await withSecureFleet(setup) { fleet, provisioner in
            let topics = Topics(task: "har")
            let mallory = try await connect(fleet, device: "mallory")
            #expect(await eventually(timeout: .seconds(60)) { fleet.watcher.announced(1) }, "\(fleet.logs)")
            let first = try #require(fleet.watcher.announcement(1))
            try await mallory.publishConfirmed(
                topics.update("mallory"),
                payload: try update(
                    provisioner, device: "mallory", round: first, weight: UInt32(first.training.samples), value: 3e38),
                qos: .atLeastOnce)
            #expect(await fleet.waitForRoundEnd(1), "\(fleet.logs)")
            let failed = try #require(fleet.watcher.metrics(1))
            #expect(failed.status == .failed && failed.reason?.contains("non_finite_model") == true, "\(failed)")
            #expect(failed.modelHash == first.modelHash)
            // The next round trains on the same model; mallory behaves, and the round aggregates.
            #expect(await eventually(timeout: .seconds(60)) { fleet.watcher.announced(2) }, "\(fleet.logs)")
            let second = try #require(fleet.watcher.announcement(2))
            #expect(second.modelHash == first.modelHash)
            try await mallory.publishConfirmed(
                topics.update("mallory"), payload: try update(provisioner, device: "mallory", round: second),
                qos: .atLeastOnce)
            await mallory.disconnect()
            #expect(await fleet.waitForRoundEnd(2), "\(fleet.logs)")
            let recovered = try #require(fleet.watcher.metrics(2))
            #expect(recovered.status == .aggregated && recovered.accepted == ["d1", "d2", "mallory"], "\(recovered)")
            #expect(recovered.modelHash != first.modelHash)
        }
    }
}
