import AggregatorService
import Federation
import Foundation
import Testing
import TributaryWire
import Trust
import UpdateCodec

/// The aggregator in production mode, in process with real keys: the registry decides who takes part, every
/// update and status must be signed by its device, replays fail the signature or the round check, and every
/// publication is signed with the aggregator's key.
@Suite struct TrustCoreTests {
    /// A core in production mode on a fresh state folder, with the registry file it follows.
    struct Rig {
        let core: AggregatorCore
        let metrics: AggregatorMetrics
        let aggregator: SigningKey
        var keys: [String: SigningKey]
        let registryPath: String

        init(enrolled: [String], minParticipants: Int = 2) throws {
            let directory = temporaryDirectory()
            aggregator = try SigningKey.generate()
            let keyPath = directory + "/aggregator.key"
            try Data(try aggregator.pem()).write(to: URL(fileURLWithPath: keyPath))
            keys = [:]
            for device in enrolled { keys[device] = try SigningKey.generate() }
            registryPath = directory + "/registry.json"
            var config = testConfig(stateDir: directory + "/state", minParticipants: minParticipants)
            config.insecure = false
            config.trust.signingKey = keyPath
            config.trust.registry = registryPath
            try Self.writeRegistry(
                enrolled.map { ($0, FleetRegistry.Status.active) }, aggregator: aggregator, keys: keys, to: registryPath
            )
            metrics = AggregatorMetrics()
            core = try AggregatorCore(config: config, metrics: metrics, logger: quietLogger)
        }

        func writeRegistry(_ devices: [(String, FleetRegistry.Status)]) throws {
            try Self.writeRegistry(devices, aggregator: aggregator, keys: keys, to: registryPath)
        }

        static func writeRegistry(
            _ devices: [(String, FleetRegistry.Status)], aggregator: SigningKey, keys: [String: SigningKey],
            to registryPath: String
        ) throws {
            let registry = FleetRegistry(
                aggregatorKey: aggregator.verifyingKey.hex,
                devices: devices.map { .init(id: $0.0, publicKey: keys[$0.0]!.verifyingKey.hex, status: $0.1) })
            try Data(registry.json).write(to: URL(fileURLWithPath: registryPath))
        }

        /// A status signed by `key` (the device's own unless given; nil: unsigned).
        func status(_ device: String, signedBy key: SigningKey??, now: Int64) {
            let json = DeviceStatus(device: device, state: "online").json
            let payload =
                key.map { $0.map { SignedJSON.seal(json, with: $0) } ?? json }
                ?? SignedJSON.seal(json, with: keys[device]!)
            _ = core.receive(status: payload, topic: "tributary/v1/dev/\(device)/status", now: now)
        }

        /// An update for `round`, signed by the device's own key (or `key`; nil: unsigned), as sent.
        func update(_ device: String, round: UInt32, base: UInt64, signedBy key: SigningKey?? = .none) -> [UInt8] {
            let message = updateMessage(
                round: round, device: device, weight: 4, indices: [0, 3], values: [0.5, -0.25], dimension: 8,
                base: base)
            switch key {
            case .none: return SignedMessage.sign(message, with: keys[device]!)
            case .some(.none): return message
            case .some(.some(let other)): return SignedMessage.sign(message, with: other)
            }
        }

        func send(_ payload: [UInt8], as device: String, now: Int64) {
            payload.withUnsafeBytes { core.receive(update: $0, topic: "tributary/v1/fl/t1/update/\(device)", now: now) }
        }

        /// Every message verifies with the aggregator's key: JSON by its `sig` member, binary by its trailer.
        func allSigned(_ messages: [Outgoing]) -> Bool {
            messages.allSatisfy { message in
                if message.payload.first == UInt8(ascii: "{") {
                    guard case .success = SignedJSON.verify(message.payload, key: aggregator.verifyingKey) else {
                        return false
                    }
                    return true
                }
                let verdict = message.payload.withUnsafeBytes { SignedMessage.verify($0, key: aggregator.verifyingKey) }
                guard case .success = verdict else { return false }
                return true
            }
        }
    }

    func announcement(_ out: [Outgoing]) throws -> RoundAnnouncement {
        try RoundAnnouncement.decode(
            SignedJSON.open(try #require(out.on("tributary/v1/fl/t1/round").last).payload).body)
    }

    func acks(_ out: [Outgoing]) -> [UpdateAck] {
        out.compactMap { $0.topic.contains("/ack/") ? try? UpdateAck.decode(SignedJSON.open($0.payload).body) : nil }
    }

    @Test("a thousand invented device ids are refused as unknown_device, none is counted, none holds the round open")
    func inventedDevices() throws {
        let rig = try Rig(enrolled: ["a", "b"])
        rig.status("a", signedBy: nil, now: 0)
        rig.status("b", signedBy: nil, now: 0)
        let start = try rig.core.start(now: 0)
        #expect(rig.allSigned(start) && !start.isEmpty)
        let base = try announcement(start).modelHash.value
        let stranger = try SigningKey.generate()
        for i in 0..<1_000 {
            let id = "fake\(i)"
            _ = rig.core.receive(
                status: SignedJSON.seal(DeviceStatus(device: id, state: "online").json, with: stranger),
                topic: "tributary/v1/dev/\(id)/status", now: 1)
            let message = updateMessage(
                round: 1, device: id, weight: 4, indices: [1], values: [0.5], dimension: 8, base: base)
            rig.send(SignedMessage.sign(message, with: stranger), as: id, now: 1)
        }
        let refused = try rig.core.commit(now: 2)
        #expect(acks(refused).isEmpty, "an invented id is not answered: nothing is published for it")
        #expect(rig.metrics.text.contains(#"tributary_updates_rejected_total{reason="unknown_device"} 1000"#))
        #expect(try rig.core.stateStore.knownDevices().isSubset(of: ["a", "b"]), "no device row for an invented id")
        let sources = try rig.core.stateStore.rejectionSources(task: "t1")
        #expect(sources.keys.sorted() == [StateStore.unknownSource], "\(sources)")
        // a and b close the round at once: none of the thousand was expected.
        rig.send(rig.update("a", round: 1, base: base), as: "a", now: 3)
        rig.send(rig.update("b", round: 1, base: base), as: "b", now: 3)
        let out = try rig.core.commit(now: 4)
        #expect(rig.allSigned(out))
        let metrics = try RoundMetrics.decode(
            SignedJSON.open(try #require(out.on("tributary/v1/fl/t1/metrics").last).payload).body)
        #expect(metrics.status == .aggregated && metrics.accepted == ["a", "b"])
        #expect(metrics.rejected["unknown_device"] == 1_000)
    }

    @Test("unsigned and forged statuses do not bring a device online; forged and unsigned updates are refused")
    func forgedStatusesAndUpdates() throws {
        let rig = try Rig(enrolled: ["a", "b", "c"], minParticipants: 2)
        let mallory = try SigningKey.generate()
        rig.status("a", signedBy: nil, now: 0)
        rig.status("b", signedBy: nil, now: 0)
        rig.status("c", signedBy: .some(nil), now: 0)
        rig.status("c", signedBy: mallory, now: 0)
        let start = try rig.core.start(now: 0)
        let round = try announcement(start)
        rig.send(rig.update("a", round: 1, base: round.modelHash.value, signedBy: mallory), as: "a", now: 1)
        rig.send(rig.update("a", round: 1, base: round.modelHash.value, signedBy: .some(nil)), as: "a", now: 1)
        // b's genuine update on a's topic: b's signature is not a's.
        rig.send(rig.update("b", round: 1, base: round.modelHash.value), as: "a", now: 1)
        // One signed byte changed: the checksum no longer fits; with the checksum fixed, the signature does not.
        var tampered = rig.update("a", round: 1, base: round.modelHash.value)
        tampered[20] ^= 1
        rig.send(tampered, as: "a", now: 1)
        tampered.removeLast(4)
        let crc = tampered.withUnsafeBytes { CRC32C.checksum($0) }
        tampered += [UInt8(crc & 0xFF), UInt8(crc >> 8 & 0xFF), UInt8(crc >> 16 & 0xFF), UInt8(crc >> 24)]
        rig.send(tampered, as: "a", now: 1)
        let refused = acks(try rig.core.commit(now: 2))
        #expect(
            refused.map { $0.reason ?? "" } == [
                "bad_signature", "unsigned", "bad_signature", "malformed_signature", "bad_signature",
            ])
        #expect(rig.metrics.text.contains(#"tributary_updates_rejected_total{reason="bad_status"} 2"#))
        // c never came online (its statuses were not its own): a and b close the round at once, without c.
        rig.send(rig.update("a", round: 1, base: round.modelHash.value), as: "a", now: 3)
        rig.send(rig.update("b", round: 1, base: round.modelHash.value), as: "b", now: 3)
        let out = try rig.core.commit(now: 4)
        let metrics = try RoundMetrics.decode(
            SignedJSON.open(try #require(out.on("tributary/v1/fl/t1/metrics").last).payload).body)
        #expect(metrics.accepted == ["a", "b"] && metrics.status == .aggregated)
    }

    @Test("a batch checked ahead on every core gets the answers each update gets checked alone, in order")
    func batchCheckedAhead() throws {
        let enrolled = (0..<30).map { "d\($0)" }
        let rig = try Rig(enrolled: enrolled, minParticipants: 100)
        for device in enrolled { rig.status(device, signedBy: nil, now: 0) }
        let base = try announcement(try rig.core.start(now: 0)).modelHash.value
        let mallory = try SigningKey.generate()
        var batch: [(topic: String, payload: [UInt8])] = []
        var expected: [AggregatorTrust.Refusal?] = []
        for (i, device) in enrolled.enumerated() {
            let key: SigningKey?? = i % 3 == 0 ? .none : i % 3 == 1 ? .some(mallory) : .some(nil)
            batch.append(
                ("tributary/v1/fl/t1/update/\(device)", rig.update(device, round: 1, base: base, signedBy: key)))
            expected.append(i % 3 == 0 ? nil : i % 3 == 1 ? .badSignature : .unsigned)
        }
        for i in 0..<10 {
            let message = updateMessage(
                round: 1, device: "u\(i)", weight: 4, indices: [1], values: [0.5], dimension: 8, base: base)
            batch.append(("tributary/v1/fl/t1/update/u\(i)", SignedMessage.sign(message, with: mallory)))
            expected.append(.unknownDevice)
        }
        let checks = rig.core.checkSignatures(batch)
        #expect(checks.map { $0?.refusal } == expected)
        #expect(checks.map { $0?.device } == batch.map { String($0.topic.split(separator: "/").last!) })
        // A check made for another device is not taken for this one's: d2's unsigned update is still refused.
        let stale = SignatureCheck(device: "d0", refusal: nil)
        for (i, message) in batch.enumerated() {
            message.payload.withUnsafeBytes {
                rig.core.receive(update: $0, topic: message.topic, now: 1, checked: i == 2 ? stale : checks[i])
            }
        }
        // Enrolled devices get their answers in order; the unknown ids none.
        let answered = expected.filter { $0 != .unknownDevice }
        let answers = acks(try rig.core.commit(now: 2))
        #expect(answers.map { $0.reason } == answered.map { $0?.rawValue })
        #expect(answers.map { $0.status == .accepted } == answered.map { $0 == nil })
    }

    @Test("an accepted update replayed into the next round is refused by the round check and changes nothing")
    func replayIntoLaterRound() throws {
        let rig = try Rig(enrolled: ["a", "b"])
        rig.status("a", signedBy: nil, now: 0)
        rig.status("b", signedBy: nil, now: 0)
        let first = try announcement(try rig.core.start(now: 0))
        let captured = rig.update("a", round: 1, base: first.modelHash.value)
        rig.send(captured, as: "a", now: 1)
        rig.send(rig.update("b", round: 1, base: first.modelHash.value), as: "b", now: 1)
        let out = try rig.core.commit(now: 2)
        let second = try announcement(out)
        #expect(second.round == 2)
        // The same bytes again, in round 2: the signature is a's, the round is not the current one.
        rig.send(captured, as: "a", now: 3)
        let answer = acks(try rig.core.commit(now: 4))
        #expect(answer.count == 1 && answer[0].status != .accepted && answer[0].round == 1, "\(answer)")
        #expect(["late_round", nil].contains(answer[0].reason), "\(answer)")
        rig.send(rig.update("a", round: 2, base: second.modelHash.value), as: "a", now: 5)
        rig.send(rig.update("b", round: 2, base: second.modelHash.value), as: "b", now: 5)
        let closed = try rig.core.commit(now: 6)
        let metrics = try RoundMetrics.decode(
            SignedJSON.open(try #require(closed.on("tributary/v1/fl/t1/metrics").last).payload).body)
        #expect(metrics.round == 2 && metrics.accepted == ["a", "b"])
    }

    @Test("a registry file made invalid, naming another aggregator, or removed leaves the last import in force")
    func registryDamaged() throws {
        let rig = try Rig(enrolled: ["a", "b"], minParticipants: 3)
        rig.status("a", signedBy: nil, now: 0)
        rig.status("b", signedBy: nil, now: 0)
        let base = try announcement(try rig.core.start(now: 0)).modelHash.value
        // A truncated write: not imported, a is still enrolled.
        try Data(#"{"v": 1, "aggregator_key": "#.utf8).write(to: URL(fileURLWithPath: rig.registryPath))
        _ = try rig.core.tick(now: 1_500)
        rig.send(rig.update("a", round: 1, base: base), as: "a", now: 1_600)
        #expect(acks(try rig.core.commit(now: 1_600)).map(\.status) == [.accepted])
        // A registry of another federation's aggregator, enrolling a stranger: not imported.
        var stranger = rig
        stranger.keys["x"] = try SigningKey.generate()
        try Rig.writeRegistry(
            [("x", .active)], aggregator: try SigningKey.generate(), keys: stranger.keys, to: rig.registryPath)
        _ = try rig.core.tick(now: 3_000)
        rig.send(stranger.update("x", round: 1, base: base), as: "x", now: 3_100)
        rig.send(rig.update("b", round: 1, base: base), as: "b", now: 3_100)
        let answers = acks(try rig.core.commit(now: 3_100))
        #expect(answers.map(\.device) == ["b"], "x is unknown here: refused, and not answered")
        #expect(rig.metrics.text.contains(#"tributary_updates_rejected_total{reason="unknown_device"} 1"#))
        // Removed: the last import still holds.
        try FileManager.default.removeItem(atPath: rig.registryPath)
        _ = try rig.core.tick(now: 4_500)
        rig.send(rig.update("b", round: 1, base: base), as: "b", now: 4_600)
        #expect(acks(try rig.core.commit(now: 4_600)).map(\.status) == [.duplicate])
    }

    @Test("the registry is followed: a device enrolled later is accepted, a revoked one refused and taken offline")
    func registryChanges() throws {
        var rig = try Rig(enrolled: ["a", "b"])
        rig.keys["c"] = try SigningKey.generate()
        rig.status("a", signedBy: nil, now: 0)
        rig.status("b", signedBy: nil, now: 0)
        let round = try announcement(try rig.core.start(now: 0))
        let base = round.modelHash.value
        rig.send(rig.update("c", round: 1, base: base), as: "c", now: 1)
        #expect(acks(try rig.core.commit(now: 1)).isEmpty, "c is not enrolled yet: refused unanswered")
        #expect(rig.metrics.text.contains(#"tributary_updates_rejected_total{reason="unknown_device"} 1"#))
        // The operator enrols c and revokes b; within a second the aggregator follows.
        try rig.writeRegistry([("a", .active), ("b", .revoked), ("c", .active)])
        _ = try rig.core.tick(now: 1_500)
        rig.send(rig.update("c", round: 1, base: base), as: "c", now: 1_600)
        rig.send(rig.update("b", round: 1, base: base), as: "b", now: 1_600)
        let answers = acks(try rig.core.commit(now: 1_600))
        #expect(answers.map(\.status) == [.accepted, .rejected])
        #expect(answers.last?.reason == "revoked")
        // b is offline now: a and c close the round without waiting for the deadline.
        rig.send(rig.update("a", round: 1, base: base), as: "a", now: 1_700)
        let out = try rig.core.commit(now: 1_700)
        let metrics = try RoundMetrics.decode(
            SignedJSON.open(try #require(out.on("tributary/v1/fl/t1/metrics").last).payload).body)
        #expect(metrics.accepted == ["a", "c"] && metrics.status == .aggregated)
    }
}
