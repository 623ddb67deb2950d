import Federation
import Testing

/// Norm clipping: updates above the norm are scaled exactly to it, others are left alone.
@Suite struct StrategyClippingTests {
    @Test("an update above the clip norm is scaled to exactly the norm and counted")
    func aboveIsScaled() throws {
        // ‖(6, 8)‖ = 10; clip at 2 → (1.2, 1.6).
        var aggregator = RoundAggregator(config: StrategyConfig(clipNorm: 2), dimension: 4)
        try aggregator.add(ClientUpdate(device: "a", indices: [1, 3], values: [6, 8], weight: 5))
        let partial = try aggregator.partial()
        #expect(partial.indices == [1, 3])
        #expect(abs(partial.weightedSums[0] - 5 * 1.2) < 1e-12 && abs(partial.weightedSums[1] - 5 * 1.6) < 1e-12)
        var model: [Float] = [0, 0, 0, 0]
        var optimizer = ServerOptimizerState()
        let report = try aggregator.apply(to: &model, optimizer: &optimizer)
        #expect(report.clipped == 1)
        #expect(abs(report.updateNorm - 2) < 1e-12)
        #expect(abs(model[1] - 1.2) < 1e-6 && abs(model[3] - 1.6) < 1e-6 && model[0] == 0 && model[2] == 0)
    }

    @Test("after a round, the next clips at adaptive_clip × the round's median norm, never above clip_norm")
    func adaptiveBound() throws {
        var aggregator = RoundAggregator(config: StrategyConfig(clipNorm: 100, adaptiveClip: 3), dimension: 2)
        #expect(aggregator.roundClip == 100, "the first round has only the fixed bound")
        for (device, norm) in [("a", Float(1)), ("b", 2), ("c", 50)] {
            try aggregator.add(ClientUpdate(device: device, indices: [0], values: [norm], weight: 1))
        }
        aggregator.reset()
        #expect(aggregator.roundClip == 6, "3 × the median of 1, 2 and 50")
        // One device sending the largest update the fixed bound allows now weighs what three honest ones would.
        try aggregator.add(ClientUpdate(device: "mallory", indices: [1], values: [100], weight: 1))
        let partial = try aggregator.partial()
        #expect(abs(partial.weightedSums[0] - 6) < 1e-9)
        aggregator.reset()
        #expect(aggregator.roundClip == 100, "3 × 100 is above clip_norm: the fixed bound again")
        // Off: the fixed bound stays.
        var fixed = RoundAggregator(config: StrategyConfig(clipNorm: 100, adaptiveClip: nil), dimension: 1)
        try fixed.add(ClientUpdate(device: "a", indices: [0], values: [1], weight: 1))
        fixed.reset()
        #expect(fixed.roundClip == 100)
        #expect(throws: StrategyConfigError.self) { try StrategyConfig(adaptiveClip: 0).validate() }
    }

    @Test("updates at or below the clip norm, and zero updates, are untouched and not counted")
    func belowIsUntouched() throws {
        var aggregator = RoundAggregator(config: StrategyConfig(clipNorm: 5), dimension: 3)
        try aggregator.add(ClientUpdate(device: "at", indices: [0, 1], values: [3, 4], weight: 1))
        try aggregator.add(ClientUpdate(device: "below", indices: [2], values: [-1.5], weight: 1))
        try aggregator.add(ClientUpdate(device: "zero", indices: [], values: [], weight: 1))
        try aggregator.add(ClientUpdate(device: "explicit zero", indices: [1], values: [0], weight: 1))
        let partial = try aggregator.partial()
        #expect(partial.indices == [0, 1, 2])
        #expect(partial.weightedSums == [3, 4, -1.5])
        var model: [Float] = [0, 0, 0]
        var optimizer = ServerOptimizerState()
        let report = try aggregator.apply(to: &model, optimizer: &optimizer)
        #expect(report.clipped == 0)
        #expect(model == [0.75, 1, -0.375])
    }

    @Test("the aggregate of mixed updates is Σ wᵢ·min(1, C/‖uᵢ‖)·uᵢ / Σ wᵢ, for every strategy's input")
    func mixedAgainstReference() throws {
        var random = StrategyTestRandom(seed: 5)
        let dimension = 30
        let clipNorm = 2.5
        let updates = (0..<9).map { i in
            random.update(device: "d\(i)", dimension: dimension, density: 0.3, scale: i % 2 == 0 ? 0.2 : 3)
        }
        let norms = updates.map { StrategyReference.norm(StrategyReference.dense($0, dimension: dimension)) }
        let expectedClipped = norms.filter { $0 > clipNorm }.count
        #expect(expectedClipped > 0 && expectedClipped < updates.count)
        for kind in [StrategyKind.fedAvg, .median, .trimmedMean] {
            let config = StrategyConfig(kind: kind, clipNorm: clipNorm)
            var aggregator = RoundAggregator(config: config, dimension: dimension)
            for update in updates { try aggregator.add(update) }
            var model = [Float](repeating: 0, count: dimension)
            var optimizer = ServerOptimizerState()
            let report = try aggregator.apply(to: &model, optimizer: &optimizer)
            #expect(report.clipped == expectedClipped)
            // Independent reference: scale each dense update by hand.
            var scaled = [ClientUpdate]()
            for (update, norm) in zip(updates, norms) {
                var copy = update
                let c = norm > clipNorm ? clipNorm / norm : 1
                copy.values = update.values.map { Float(c * Double($0)) }
                scaled.append(copy)
            }
            var unclipped = config
            unclipped.clipNorm = nil
            let expected = StrategyReference.delta(scaled, dimension: dimension, config: unclipped)
            #expect(StrategyReference.firstMismatch(model, expected, 1e-6) == nil, "\(kind)")
        }
    }
}
