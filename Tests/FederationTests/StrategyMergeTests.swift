import Federation
import Testing

/// Sharded aggregation: partials merged from several aggregators equal one aggregator that saw every update.
@Suite struct StrategyMergeTests {
    static let meanKinds: [StrategyKind] = [.fedAvg, .fedAvgM, .fedAdam, .fedYogi, .fedAdagrad]
    static let dimension = 50

    static func updates(seed: UInt64, count: Int, weightless: Bool = false) -> [ClientUpdate] {
        var random = StrategyTestRandom(seed: seed)
        return (0..<count).map { i in
            random.update(
                device: "d\(seed)-\(i)", dimension: dimension, density: [0.05, 0.3, 0.8][i % 3],
                weight: weightless ? 0 : nil, staleness: 0...3)
        }
    }

    /// Applies the aggregate of `single` and of the merged `shards` to the same model for two rounds and
    /// compares partials, counts, weights, devices and models.
    static func checkMerge(kind: StrategyKind, rounds: [[[ClientUpdate]]], intoFirstShard: Bool) throws {
        let config = StrategyConfig(kind: kind, serverLearningRate: 0.3, clipNorm: 4)
        var single = RoundAggregator(config: config, dimension: dimension)
        var merged = RoundAggregator(config: config, dimension: dimension)
        var singleModel = (0..<dimension).map { Float($0) / 10 }
        var mergedModel = singleModel
        var singleOptimizer = ServerOptimizerState()
        var mergedOptimizer = ServerOptimizerState()
        for shards in rounds {
            var partials = [PartialAggregate]()
            for (s, shard) in shards.enumerated() {
                var aggregator = RoundAggregator(config: config, dimension: dimension)
                for update in shard {
                    try single.add(update)
                    if intoFirstShard && s == 0 { try merged.add(update) } else { try aggregator.add(update) }
                }
                if !(intoFirstShard && s == 0) { partials.append(try aggregator.partial()) }
            }
            for partial in partials { try merged.merge(partial) }

            let all = shards.flatMap { $0 }
            #expect(merged.count == all.count && single.count == all.count)
            #expect(merged.devices == all.map(\.device))
            #expect(StrategyReference.isClose(merged.totalWeight, single.totalWeight, 1e-12))
            let a = try single.partial()
            let b = try merged.partial()
            #expect(a.indices == b.indices)
            #expect(a.count == b.count && a.devices == b.devices && a.dimension == b.dimension)
            #expect(zip(a.weightedSums, b.weightedSums).allSatisfy { StrategyReference.isClose($0, $1, 1e-9) })

            let singleReport = try single.apply(to: &singleModel, optimizer: &singleOptimizer)
            let mergedReport = try merged.apply(to: &mergedModel, optimizer: &mergedOptimizer)
            single.reset()
            merged.reset()
            #expect(StrategyReference.isClose(singleReport.updateNorm, mergedReport.updateNorm, 1e-9))
            #expect(singleReport.participants == mergedReport.participants)
            let mismatch = StrategyReference.firstMismatch(mergedModel, singleModel.map(Double.init), 1e-6)
            #expect(mismatch == nil, "\(kind)")
        }
    }

    @Test("three shards' partials merged into an empty aggregator equal one aggregator", arguments: meanKinds)
    func threeShards(kind: StrategyKind) throws {
        let rounds = (0..<2).map { round in
            (0..<3).map { s in Self.updates(seed: UInt64(round * 10 + s), count: 4 + s) }
        }
        try Self.checkMerge(kind: kind, rounds: rounds, intoFirstShard: false)
    }

    @Test("two shards, the second merged into the first, equal one aggregator", arguments: meanKinds)
    func twoShards(kind: StrategyKind) throws {
        let rounds = (0..<2).map { round in
            (0..<2).map { s in Self.updates(seed: UInt64(100 + round * 10 + s), count: 5) }
        }
        try Self.checkMerge(kind: kind, rounds: rounds, intoFirstShard: true)
    }

    @Test(
        "weightless shards merge to the unweighted mean, and weigh nothing beside weighted ones", arguments: meanKinds)
    func weightlessShards(kind: StrategyKind) throws {
        let weightless = [
            Self.updates(seed: 200, count: 3, weightless: true), Self.updates(seed: 201, count: 2, weightless: true),
        ]
        try Self.checkMerge(kind: kind, rounds: [weightless], intoFirstShard: false)
        let mixed = [
            Self.updates(seed: 202, count: 3, weightless: true), Self.updates(seed: 203, count: 3),
            Self.updates(seed: 204, count: 2, weightless: true),
        ]
        try Self.checkMerge(kind: kind, rounds: [mixed], intoFirstShard: false)
        try Self.checkMerge(kind: kind, rounds: [mixed], intoFirstShard: true)
        try Self.checkMerge(kind: kind, rounds: [Array(mixed.reversed())], intoFirstShard: true)
    }

    @Test("an all-weightless round is the unweighted mean of the clipped updates")
    func weightlessIsUnweightedMean() throws {
        let updates = Self.updates(seed: 300, count: 4, weightless: true)
        let config = StrategyConfig(kind: .fedAvg)
        var aggregator = RoundAggregator(config: config, dimension: Self.dimension)
        for update in updates { try aggregator.add(update) }
        var model = [Float](repeating: 0, count: Self.dimension)
        var optimizer = ServerOptimizerState()
        _ = try aggregator.apply(to: &model, optimizer: &optimizer)
        var expected = [Double](repeating: 0, count: Self.dimension)
        for update in updates {
            let u = StrategyReference.dense(update, dimension: Self.dimension)
            for j in 0..<Self.dimension { expected[j] += u[j] / 4 }
        }
        #expect(StrategyReference.firstMismatch(model, expected, 1e-6) == nil)
        #expect(expected.contains { $0 != 0 })
    }
}
