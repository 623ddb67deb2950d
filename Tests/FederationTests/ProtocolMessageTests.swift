import Federation
import Foundation
import Testing

@Suite struct ProtocolMessageTests {
    static let spec = TaskSpec(
        task: "har",
        model: .init(head: .softmax, inputs: 36, outputs: 7),
        data: .init(
            stream: "imu", channels: [0, 1, 2, 3, 4, 5], labelChannel: 6, windowFrames: 100, hopFrames: 50,
            features: ["mean", "std", "min", "max", "rms", "zcr"])
    ).sealed()

    @Test("a sealed task specification round-trips, and any change to it breaks its hash")
    func specHash() throws {
        let decoded = try TaskSpec.decode(Self.spec.json)
        #expect(decoded == Self.spec)
        #expect(decoded.dimension == 36 * 7 + 7)
        var tampered = Self.spec
        tampered.training.learningRate = 0.5
        #expect { try TaskSpec.decode(tampered.json) } throws: { ($0 as? ProtocolError)?.code == .hashMismatch }
        var unsealed = Self.spec
        unsealed.hash = nil
        #expect { try TaskSpec.decode(unsealed.json) } throws: { ($0 as? ProtocolError)?.code == .hashMismatch }
        // The hash is of the canonical JSON: key order in the input does not matter.
        let text = String(decoding: Self.spec.json, as: UTF8.self)
        #expect(text.hasPrefix("{\"codec\":"))
    }

    @Test("invalid specifications are refused with the field named")
    func specValidation() {
        var wrongInputs = Self.spec
        wrongInputs.model.inputs = 35
        #expect { try wrongInputs.sealed().validate() } throws: { ($0 as? ProtocolError)?.code == .invalidField }
        var badFeature = Self.spec
        badFeature.data.features[0] = "median"
        #expect { try badFeature.sealed().validate() } throws: { "\($0)".contains("features") }
        var badK = Self.spec
        badK.codec.kFraction = 0
        #expect { try badK.sealed().validate() } throws: { "\($0)".contains("codec") }
        var badID = Self.spec
        badID.task = "a/b"
        #expect { try badID.sealed().validate() } throws: { "\($0)".contains("task id") }
    }

    @Test("control messages round-trip; malformed, oversized and future-version ones are typed errors")
    func messages() throws {
        let round = RoundAnnouncement(
            task: "har", round: 3, specHash: 1, modelHash: 0xFFFF_0000_0000_0001, mode: .sync, deadlineMs: 123,
            selection: Selection(mode: .count, value: 5, seed: 9), devices: ["a", "b"],
            training: LocalTraining(samples: 50, proxMu: 0.01))
        #expect(try RoundAnnouncement.decode(round.json) == round)
        #expect(String(decoding: round.json, as: UTF8.self).contains("\"model_hash\":\"ffff000000000001\""))
        #expect(!String(decoding: round.json, as: UTF8.self).contains("k_fraction"), "absent unless a round sets it")
        var sparser = round
        sparser.training.kFraction = 0.05
        #expect(String(decoding: sparser.json, as: UTF8.self).contains("\"k_fraction\":0.05"))
        #expect(try RoundAnnouncement.decode(sparser.json) == sparser)
        let ack = UpdateAck(task: "har", round: 3, device: "a", status: .rejected, reason: "late_round")
        #expect(try UpdateAck.decode(ack.json) == ack)
        let metrics = RoundMetrics(
            task: "har", round: 3, status: .aggregated, accepted: ["a"], rejected: ["late_round": 2], totalWeight: 10,
            modelHash: 5, updateNorm: 0.5, modelNorm: 2, durationMs: 40, bytesIn: 1_000)
        #expect(try RoundMetrics.decode(metrics.json) == metrics)
        #expect(try DeviceStatus.decode(DeviceStatus(device: "a", state: "online").json).isOnline)

        #expect { try RoundAnnouncement.decode(Array("not json".utf8)) } throws: {
            ($0 as? ProtocolError)?.code == .malformed
        }
        #expect { try UpdateAck.decode(Array("{\"v\":2}".utf8)) } throws: { ($0 as? ProtocolError)?.code == .malformed }
        var future = String(decoding: ack.json, as: UTF8.self)
        future = future.replacingOccurrences(of: "\"v\":1", with: "\"v\":2")
        #expect { try UpdateAck.decode(Array(future.utf8)) } throws: {
            ($0 as? ProtocolError)?.code == .unsupportedVersion
        }
        #expect { try DeviceStatus.decode([UInt8](repeating: 32, count: 2 << 20)) } throws: {
            ($0 as? ProtocolError)?.code == .tooLarge
        }
        var badHash = String(decoding: round.json, as: UTF8.self)
        badHash = badHash.replacingOccurrences(of: "ffff000000000001", with: "xyz")
        #expect { try RoundAnnouncement.decode(Array(badHash.utf8)) } throws: { $0 is ProtocolError }
        #expect { try DeviceStatus.decode(DeviceStatus(device: "a b", state: "online").json) } throws: {
            ($0 as? ProtocolError)?.code == .invalidField
        }
    }

    @Test("an announcement leaves out what has its default, and reads back with the defaults when it is absent")
    func announcementDefaults() throws {
        let open = RoundAnnouncement(
            task: "har", round: 2, specHash: 1, modelHash: 2, mode: .sync, deadlineMs: 10, selection: Selection(),
            devices: [], training: LocalTraining(samples: 40))
        let text = String(decoding: open.json, as: UTF8.self)
        for absent in ["selection", "devices", "prox_mu", "k_fraction"] {
            #expect(!text.contains(absent), "\(absent) in \(text)")
        }
        #expect(try RoundAnnouncement.decode(open.json) == open)
        var selective = open
        selective.selection = Selection(mode: .fraction, value: 0.5, seed: 3)
        selective.devices = ["a"]
        selective.training.proxMu = 0.1
        let full = String(decoding: selective.json, as: UTF8.self)
        for present in ["selection", "devices", "prox_mu"] { #expect(full.contains(present), "\(present) in \(full)") }
        #expect(try RoundAnnouncement.decode(selective.json) == selective)
        // What is required stays required.
        let noTraining = text.replacingOccurrences(of: ",\"training\":{\"samples\":40}", with: "")
        #expect(noTraining != text)
        #expect { try RoundAnnouncement.decode(Array(noTraining.utf8)) } throws: { $0 is ProtocolError }
    }

    @Test("topics: ids are parsed back out of topics, and only clean ids are accepted")
    func topics() {
        let t = Topics(task: "har")
        #expect(t.update("dev-1") == "tributary/v1/fl/har/update/dev-1")
        #expect(t.device(inUpdateTopic: t.update("dev-1")) == "dev-1")
        #expect(t.device(inUpdateTopic: "tributary/v1/fl/other/update/dev-1") == nil)
        #expect(t.device(inUpdateTopic: "tributary/v1/fl/har/update/a/b") == nil)
        #expect(t.device(inStatusTopic: t.deviceStatus("x")) == "x")
        #expect(t.sharedUpdates(group: "agg") == "$share/agg/tributary/v1/fl/har/update/+")
        #expect(Topics.isValidID("sim-0001") && !Topics.isValidID("") && !Topics.isValidID("a+b"))
        #expect(!Topics.isValidID(String(repeating: "x", count: 65)))
    }
}
