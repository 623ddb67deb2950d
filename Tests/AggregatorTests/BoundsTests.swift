import AggregatorService
import Federation
import Foundation
import Testing
import UpdateCodec

/// One device must not be able to poison or stall a federation: out-of-bounds updates are refused with their
/// reasons, and an aggregate that is not finite fails its round while the next proceeds from the same model.
@Suite struct BoundsTests {
    @Test("an inflated weight and a huge value are refused with their reasons; the round completes without them")
    func outOfBounds() throws {
        let config = testConfig(stateDir: temporaryDirectory(), minParticipants: 2)
        let metrics = AggregatorMetrics()
        let core = try AggregatorCore(config: config, metrics: metrics, logger: quietLogger)
        CoreTests.online(core, ["a", "b", "c", "d"], now: 0)
        let start = try core.start(now: 0)
        let base = try RoundAnnouncement.decode(start.on("tributary/v1/fl/t1/round").last!.payload).modelHash.value
        let model = try modelParameters(start.on("tributary/v1/fl/t1/model")[0].payload).parameters
        let honest: (indices: [UInt32], values: [Float]) = ([0, 3], [0.5, -0.25])
        CoreTests.send(core, device: "c", round: 1, weight: .max, update: honest, base: base, now: 1)
        CoreTests.send(core, device: "d", round: 1, weight: 1, update: ([2], [1e30]), base: base, now: 1)
        CoreTests.send(core, device: "a", round: 1, weight: 4, update: honest, base: base, now: 1)
        CoreTests.send(core, device: "b", round: 1, weight: 4, update: honest, base: base, now: 1)
        var out = try core.commit(now: 2)
        #expect(out.acks().map(\.status) == [.rejected, .rejected, .accepted, .accepted])
        #expect(out.acks().compactMap(\.reason) == ["weight_too_large", "value_out_of_range"])
        #expect(metrics.text.contains(#"tributary_updates_rejected_total{reason="weight_too_large"} 1"#))
        #expect(metrics.text.contains(#"tributary_updates_rejected_total{reason="value_out_of_range"} 1"#))
        // c and d were rejected, so the round still waits for them until the deadline.
        out += try core.tick(now: 31_000)
        let result = try RoundMetrics.decode(out.on("tributary/v1/fl/t1/metrics").last!.payload)
        #expect(result.status == .aggregated && result.accepted == ["a", "b"])
        let published = try modelParameters(out.on("tributary/v1/fl/t1/model").last!.payload).parameters
        let expected = fedAvgReference(model: model, updates: [(4, honest.indices, honest.values)])
        #expect(published == expected)
    }

    @Test("no update weighs more than the samples the round asked for, and no accuracy lies outside [0, 1]")
    func weightAndAccuracyBounds() throws {
        var config = testConfig(stateDir: temporaryDirectory(), minParticipants: 2)
        config.rounds.local.samples = 200
        let metrics = AggregatorMetrics()
        let core = try AggregatorCore(config: config, metrics: metrics, logger: quietLogger)
        CoreTests.online(core, ["a", "b", "c", "d"], now: 0)
        let start = try core.start(now: 0)
        let base = try RoundAnnouncement.decode(start.on("tributary/v1/fl/t1/round").last!.payload).modelHash.value
        let honest: (indices: [UInt32], values: [Float]) = ([0, 3], [0.5, -0.25])
        // Within max_weight (1,000,000), far beyond the 200 samples of the round.
        CoreTests.send(core, device: "c", round: 1, weight: 201, update: honest, base: base, now: 1)
        let lying = updateMessage(
            round: 1, device: "d", weight: 200, indices: honest.indices, values: honest.values, dimension: 8,
            base: base, metrics: [UpdateFormat.Metric.holdoutAccuracy: 3e37])
        lying.withUnsafeBytes { core.receive(update: $0, topic: "tributary/v1/fl/t1/update/d", now: 1) }
        CoreTests.send(core, device: "a", round: 1, weight: 200, update: honest, base: base, now: 1)
        CoreTests.send(core, device: "b", round: 1, weight: 1, update: honest, base: base, now: 1)
        let out = try core.commit(now: 2)
        #expect(out.acks().map(\.status) == [.rejected, .rejected, .accepted, .accepted])
        #expect(out.acks().compactMap(\.reason) == ["weight_too_large", "value_out_of_range"])
    }

    @Test("rejections are counted per source and reason: a flood adds no rows, invented ids get none of their own")
    func rejectionsCounted() throws {
        let store = try StateStore(path: temporaryDirectory() + "/state.sqlite")
        let refused = (0..<10).map {
            StateStore.Rejection(round: 1, device: "mallory", reason: $0 < 7 ? "unsigned" : "bad_signature", at: 1)
        }
        let invented = (0..<300).map {
            StateStore.Rejection(round: 1, device: "fake-\($0)", reason: "malformed", at: Int64($0), known: false)
        }
        for _ in 0..<3 { try store.record(task: "t1", accepted: [], rejected: refused + invented) }
        #expect(try store.rejectionCounts(task: "t1") == ["unsigned": 21, "bad_signature": 9, "malformed": 900])
        let sources = try store.rejectionSources(task: "t1")
        #expect(sources.keys.sorted() == [StateStore.unknownSource, "mallory"])
        #expect(sources[StateStore.unknownSource] == ["malformed": 900])
        #expect(try store.knownDevices() == ["mallory"], "no device row for an invented id")
    }

    @Test("a round whose aggregate is not finite fails with a reason, keeps the model, and the next round proceeds")
    func nonFiniteAggregate() throws {
        // Bounds wide open and a server learning rate of 2, so two finite updates overflow a Float.
        var config = testConfig(stateDir: temporaryDirectory(), minParticipants: 2)
        config.strategy = StrategyConfig(
            serverLearningRate: 2, clipNorm: nil, maxWeight: 1e12, maxAbsValue: Double(Float.greatestFiniteMagnitude))
        let metrics = AggregatorMetrics()
        let core = try AggregatorCore(config: config, metrics: metrics, logger: quietLogger)
        CoreTests.online(core, ["a", "b"], now: 0)
        let start = try core.start(now: 0)
        let base = try RoundAnnouncement.decode(start.on("tributary/v1/fl/t1/round").last!.payload).modelHash.value
        let model = try modelParameters(start.on("tributary/v1/fl/t1/model")[0].payload).parameters
        let huge: (indices: [UInt32], values: [Float]) = ([1], [3e38])
        CoreTests.send(core, device: "a", round: 1, weight: 1, update: huge, base: base, now: 1)
        CoreTests.send(core, device: "b", round: 1, weight: 1, update: huge, base: base, now: 1)
        let out = try core.commit(now: 2)
        #expect(out.acks().map(\.status) == [.accepted, .accepted])
        #expect(out.on("tributary/v1/fl/t1/model").isEmpty)
        let failed = try RoundMetrics.decode(out.on("tributary/v1/fl/t1/metrics").last!.payload)
        #expect(failed.status == .failed && failed.round == 1)
        #expect(failed.reason?.contains("non_finite_model") == true)
        #expect(metrics.text.contains(#"tributary_rounds_total{status="failed"} 1"#))
        // The next round is announced on the same model, and completes.
        let next = try RoundAnnouncement.decode(out.on("tributary/v1/fl/t1/round").last!.payload)
        #expect(next.round == 2 && next.modelHash.value == base)
        let small: (indices: [UInt32], values: [Float]) = ([1], [0.5])
        CoreTests.send(core, device: "a", round: 2, weight: 1, update: small, base: base, now: 3)
        CoreTests.send(core, device: "b", round: 2, weight: 1, update: small, base: base, now: 3)
        let second = try core.commit(now: 4)
        let aggregated = try RoundMetrics.decode(second.on("tributary/v1/fl/t1/metrics").last!.payload)
        #expect(aggregated.status == .aggregated && aggregated.round == 2)
        let published = try modelParameters(second.on("tributary/v1/fl/t1/model").last!.payload).parameters
        var expected = model
        expected[1] = Float(Double(model[1]) + 2 * 0.5)
        #expect(published == expected)
    }

    @Test("clipping is on by default: an update of norm 500 moves the model by 100, and the round reports it")
    func clippedByDefault() throws {
        let config = testConfig(stateDir: temporaryDirectory(), minParticipants: 1)
        let metrics = AggregatorMetrics()
        let core = try AggregatorCore(config: config, metrics: metrics, logger: quietLogger)
        CoreTests.online(core, ["a"], now: 0)
        let start = try core.start(now: 0)
        let base = try RoundAnnouncement.decode(start.on("tributary/v1/fl/t1/round").last!.payload).modelHash.value
        let model = try modelParameters(start.on("tributary/v1/fl/t1/model")[0].payload).parameters
        CoreTests.send(core, device: "a", round: 1, weight: 3, update: ([0, 1], [300, 400]), base: base, now: 1)
        let out = try core.commit(now: 2)
        let result = try RoundMetrics.decode(out.on("tributary/v1/fl/t1/metrics").last!.payload)
        #expect(result.status == .aggregated && result.clipped == 1)
        #expect(abs(result.updateNorm - StrategyConfig.defaultClipNorm) <= 1e-9)
        let published = try modelParameters(out.on("tributary/v1/fl/t1/model").last!.payload).parameters
        #expect(published[0] == Float(Double(model[0]) + 60) && published[1] == Float(Double(model[1]) + 80))
        #expect(metrics.text.contains("tributary_updates_clipped_total 1"))
    }
}
