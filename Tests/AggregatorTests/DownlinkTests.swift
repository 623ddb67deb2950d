import AggregatorService
import Federation
import Testing
import TributaryWire
import UpdateCodec

/// The sparse downlink (`codec.downlink_k_fraction` < 1) and the hold-out accuracies updates carry.
@Suite struct DownlinkTests {
    static func sparseConfig(_ directory: String) -> AggregatorConfig {
        var spec = testSpec()
        spec.codec.downlinkKFraction = 0.25
        return testConfig(spec.sealed(), stateDir: directory, minParticipants: 3)
    }

    static func decode(_ payload: [UInt8]) throws -> DecodedUpdate {
        var decoder = try UpdateDecoder()
        return try payload.withUnsafeBytes { try decoder.decode($0) }
    }

    @Test(
        "devices applying the delta hold exactly the retained model; the rest waits on the aggregator, restarts included"
    )
    func deltas() throws {
        let directory = temporaryDirectory()
        let config = Self.sparseConfig(directory)
        var rng = TestRandom(5)
        var held: [Float] = []
        var own: [Float] = []
        do {
            let core = try AggregatorCore(config: config, metrics: AggregatorMetrics(), logger: quietLogger)
            CoreTests.online(core, ["a", "b", "c"], now: 0)
            let started = try core.start(now: 0)
            held = try modelParameters(started.on("tributary/v1/fl/t1/model")[0].payload).parameters
            let initial = held
            var sent: [(Double, [UInt32], [Float])] = []
            for (device, accuracy) in [("a", 0.5), ("b", 0.7), ("c", nil)] as [(String, Float?)] {
                let u = randomUpdate(&rng, dimension: 8, k: 3)
                let bytes = updateMessage(
                    round: 1, device: device, weight: 1, indices: u.indices, values: u.values, dimension: 8,
                    base: ModelHash.of(held), metrics: accuracy.map { [UpdateFormat.Metric.holdoutAccuracy: $0] } ?? [:]
                )
                bytes.withUnsafeBytes { core.receive(update: $0, topic: "tributary/v1/fl/t1/update/\(device)", now: 1) }
                sent.append((1, u.indices, u.values))
            }
            let out = try core.commit(now: 2)
            #expect(out.acks().map(\.status) == [.accepted, .accepted, .accepted])
            let full = try #require(out.on("tributary/v1/fl/t1/model").first)
            let delta = try #require(out.on("tributary/v1/fl/t1/model/delta").first)
            #expect(full.retain && !delta.retain)
            let decoded = try Self.decode(delta.payload)
            #expect(decoded.header.type == .sparseModelDelta && decoded.header.k == 2 && decoded.header.round == 2)
            #expect(delta.payload.count < full.payload.count)
            // A device holding the round-1 model ends, bit for bit, on the retained model.
            try decoded.apply(to: &held)
            let published = try modelParameters(full.payload).parameters
            #expect(held == published && core.broadcast == published)
            let next = try RoundAnnouncement.decode(out.on("tributary/v1/fl/t1/round").first!.payload)
            #expect(next.modelHash.value == ModelHash.of(published))
            // The aggregator's own model took every update in full; the delta carried two of its changes.
            own = core.parameters
            let expected = fedAvgReference(model: initial, updates: sent)
            for i in 0..<8 { #expect(abs(own[i] - expected[i]) <= 1e-6) }
            #expect(own != published)
            // The participants' hold-out accuracies: the mean of those that reported one.
            let metrics = try RoundMetrics.decode(out.on("tributary/v1/fl/t1/metrics").first!.payload)
            #expect(metrics.holdoutDevices == 2 && metrics.holdoutAccuracy == 0.6)
            #expect(metrics.modelHash.value == ModelHash.of(published))
        }
        // Restarted: both models come back from the checkpoint, and the next delta starts from what devices hold.
        let core = try AggregatorCore(config: config, metrics: AggregatorMetrics(), logger: quietLogger)
        #expect(core.broadcast == held && core.parameters == own)
        CoreTests.online(core, ["a", "b", "c"], now: 10)
        let resumed = try core.start(now: 10)
        #expect(
            try RoundAnnouncement.decode(resumed.on("tributary/v1/fl/t1/round").last!.payload).modelHash.value
                == ModelHash.of(held))
        for device in ["a", "b", "c"] {
            CoreTests.send(
                core, device: device, round: 2, weight: 1, update: randomUpdate(&rng, dimension: 8, k: 3),
                base: ModelHash.of(held), now: 11)
        }
        let out = try core.commit(now: 12)
        let delta = try Self.decode(try #require(out.on("tributary/v1/fl/t1/model/delta").first).payload)
        #expect(delta.header.baseModelHash == ModelHash.of(held))
        try delta.apply(to: &held)
        #expect(held == (try modelParameters(out.on("tributary/v1/fl/t1/model").first!.payload).parameters))
    }

    @Test("a checkpoint keeps the broadcast model (flag bit 2) and refuses unknown flags")
    func checkpoint() throws {
        let optimizer = ServerOptimizerState(dimension: 0)
        let plain = Checkpoint(round: 3, model: [1, 2, 3], optimizer: optimizer)
        let sparse = Checkpoint(round: 3, model: [1, 2, 3], optimizer: optimizer, broadcast: [1, 2, 2.5])
        #expect(try Checkpoint(bytes: plain.bytes) == plain)
        #expect(try Checkpoint(bytes: sparse.bytes) == sparse)
        #expect(sparse.bytes.count == plain.bytes.count + 12)
        // Flags sit after magic, version, round, hash, dimension and step.
        let flags = 4 + 1 + 4 + 8 + 4 + 4
        #expect(sparse.bytes[flags] == 4 && plain.bytes[flags] == 0)
        var bad = Array(sparse.bytes.dropLast(4))
        bad[flags] = 8
        bad += withUnsafeBytes(of: CRC32C.checksum(bad).littleEndian) { Array($0) }
        #expect(throws: WireError.self) { try Checkpoint(bytes: bad) }
        var short = Array(sparse.bytes.dropLast(4))
        short[flags] = 0
        short += withUnsafeBytes(of: CRC32C.checksum(short).littleEndian) { Array($0) }
        #expect(throws: WireError.self) { try Checkpoint(bytes: short) }
    }
}
