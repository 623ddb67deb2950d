import Federation
import Testing

/// Median and trimmed mean: implicit zeros count, and outliers do not drag the model.
@Suite struct StrategyRobustTests {
    /// One apply of `updates` to a zero model with η = 1: the aggregate itself.
    static func aggregate(_ updates: [ClientUpdate], config: StrategyConfig, dimension: Int) throws -> [Float] {
        var aggregator = RoundAggregator(config: config, dimension: dimension)
        for update in updates { try aggregator.add(update) }
        var model = [Float](repeating: 0, count: dimension)
        var optimizer = ServerOptimizerState()
        _ = try aggregator.apply(to: &model, optimizer: &optimizer)
        return model
    }

    static func update(_ device: String, _ entries: [(UInt32, Float)], weight: Double = 1) -> ClientUpdate {
        ClientUpdate(device: device, indices: entries.map(\.0), values: entries.map(\.1), weight: weight)
    }

    @Test("median counts implicit zeros: odd n")
    func medianOdd() throws {
        // Three devices. Coordinate 0: {5, 0, 0} → 0 only because of the zeros. Coordinate 1: {5, 7, 0} → 5.
        // Coordinate 2: {−4, −2, 0} → −2. Coordinate 3: {−1, 3, 0} → 0 (the implicit zero is the middle).
        // Coordinate 4: untouched → 0. Coordinate 5: {1, 2, 3} all explicit → 2.
        let updates = [
            Self.update("a", [(0, 5), (1, 5), (2, -4), (3, -1), (5, 1)]),
            Self.update("b", [(1, 7), (2, -2), (3, 3), (5, 3)]),
            Self.update("c", [(5, 2)]),
        ]
        let result = try Self.aggregate(updates, config: StrategyConfig(kind: .median), dimension: 6)
        #expect(result == [0, 5, -2, 0, 0, 2])
    }

    @Test("median counts implicit zeros: even n takes the mean of the middle two")
    func medianEven() throws {
        // Four devices. Coordinate 0: {4, 6, 0, 0} → (0+4)/2 = 2. Coordinate 1: {4, 6, 8, 0} → 5.
        // Coordinate 2: {−4, 0, 0, 0} → 0. Coordinate 3: {−3, −1, 2, 0} → (−1+0)/2 = −0.5.
        // Coordinate 4: {1, 2, 3, 4} → 2.5.
        let updates = [
            Self.update("a", [(0, 4), (1, 4), (2, -4), (3, -3), (4, 1)]),
            Self.update("b", [(0, 6), (1, 6), (3, -1), (4, 2)]),
            Self.update("c", [(1, 8), (3, 2), (4, 3)]),
            Self.update("d", [(4, 4)]),
        ]
        let result = try Self.aggregate(updates, config: StrategyConfig(kind: .median), dimension: 5)
        #expect(result == [2, 5, 0, -0.5, 2.5])
    }

    @Test("trimmed mean counts implicit zeros")
    func trimmedMeanZeros() throws {
        // Five devices, trim 0.2: one value dropped at each end, mean of the middle three.
        // Coordinate 0: {10, 0, 0, 0, 0} → 0. Coordinate 1: {10, 20, 30, 0, 0} → (0+10+20)/3 = 10.
        // Coordinate 2: {−9, 1, 2, 3, 0} → (0+1+2)/3 = 1. Coordinate 3: {1, 2, 3, 4, 100} → 3.
        let updates = [
            Self.update("a", [(0, 10), (1, 10), (2, -9), (3, 1)]),
            Self.update("b", [(1, 20), (2, 1), (3, 2)]),
            Self.update("c", [(1, 30), (2, 2), (3, 3)]),
            Self.update("d", [(2, 3), (3, 4)]),
            Self.update("e", [(3, 100)]),
        ]
        let config = StrategyConfig(kind: .trimmedMean, trimFraction: 0.2)
        let result = try Self.aggregate(updates, config: config, dimension: 4)
        #expect(result == [0, 10, 1, 3])
        // Trim 0 is the plain (unweighted) mean, zeros included: coordinate 0 → 10/5 = 2.
        let mean = try Self.aggregate(
            updates, config: StrategyConfig(kind: .trimmedMean, trimFraction: 0), dimension: 4)
        #expect(mean == [2, 12, -0.6, 22])
    }

    @Test("median and trimmed mean ignore weights and staleness")
    func unweighted() throws {
        let light = ClientUpdate(device: "a", indices: [0], values: [1], weight: 1)
        let heavy = ClientUpdate(device: "b", indices: [0], values: [3], weight: 1_000, staleness: 5)
        let third = ClientUpdate(device: "c", indices: [0], values: [2], weight: 0)
        for kind in [StrategyKind.median, .trimmedMean] {
            let config = StrategyConfig(kind: kind, trimFraction: 0)
            #expect(try Self.aggregate([light, heavy, third], config: config, dimension: 1) == [2])
        }
    }

    @Test(
        "median and trimmed mean match a dense sort on random sparse data, odd and even n",
        arguments: [0.0, 0.1, 0.2, 0.34, 0.49])
    func randomAgainstDenseSort(trimFraction: Double) throws {
        var random = StrategyTestRandom(seed: UInt64(trimFraction * 1_000) &+ 7)
        let dimension = 40
        for n in 1...12 {
            let updates = (0..<n).map { i in
                random.update(device: "d\(i)", dimension: dimension, density: random.uniform(0.05, 0.9))
            }
            for kind in [StrategyKind.median, .trimmedMean] {
                let config = StrategyConfig(kind: kind, trimFraction: trimFraction)
                let result = try Self.aggregate(updates, config: config, dimension: dimension)
                let vectors = updates.map { StrategyReference.dense($0, dimension: dimension) }
                for j in 0..<dimension {
                    let column = vectors.map { $0[j] }
                    let expected =
                        kind == .median
                        ? StrategyReference.median(column)
                        : StrategyReference.trimmedMean(column, fraction: trimFraction)
                    #expect(abs(Double(result[j]) - expected) <= 1e-6, "\(kind) n \(n) coordinate \(j)")
                }
            }
        }
    }

    @Test("with 2 Byzantine updates among 12, median and trimmed mean stay near the honest mean; fedAvg does not")
    func byzantineRobustness() throws {
        var random = StrategyTestRandom(seed: 99)
        let dimension = 32
        let center = (0..<dimension).map { _ in random.uniform(-1, 1) }
        let noise = 0.05
        var updates = (0..<10).map { i in
            ClientUpdate(
                device: "honest\(i)", indices: (0..<UInt32(dimension)).map { $0 },
                values: center.map { Float($0 + random.uniform(-noise, noise)) }, weight: 50)
        }
        var honestMean = [Double](repeating: 0, count: dimension)
        for update in updates {
            for j in 0..<dimension { honestMean[j] += Double(update.values[j]) / 10 }
        }
        // Attackers push every coordinate by a huge amount and claim many samples.
        for i in 0..<2 {
            updates.append(
                ClientUpdate(
                    device: "byzantine\(i)", indices: (0..<UInt32(dimension)).map { $0 },
                    values: [Float](repeating: 1e6, count: dimension), weight: 500))
        }
        // The strategies alone: no clipping, and bounds wide enough to let the attack through.
        func unbounded(_ kind: StrategyKind, trimFraction: Double = 0.1) -> StrategyConfig {
            StrategyConfig(kind: kind, trimFraction: trimFraction, clipNorm: nil, maxAbsValue: 1e7)
        }
        for config in [unbounded(.median), unbounded(.trimmedMean, trimFraction: 0.2)] {
            let result = try Self.aggregate(updates, config: config, dimension: dimension)
            for j in 0..<dimension {
                // Honest values lie within ±noise of the centre, and so within 2·noise of their mean.
                #expect(abs(Double(result[j]) - honestMean[j]) <= 2 * noise, "\(config.kind) coordinate \(j)")
            }
        }
        let averaged = try Self.aggregate(updates, config: unbounded(.fedAvg), dimension: dimension)
        for j in 0..<dimension { #expect(abs(Double(averaged[j]) - honestMean[j]) > 1e5) }
        // With the default bounds the attackers' updates are refused, and fedAvg stays near the honest mean.
        var bounded = RoundAggregator(config: StrategyConfig(), dimension: dimension)
        for update in updates {
            do { try bounded.add(update) } catch {
                #expect(error == .outOfBounds(.valueOutOfRange, device: update.device))
            }
        }
        #expect(bounded.devices == (0..<10).map { "honest\($0)" })
        var model = [Float](repeating: 0, count: dimension)
        var optimizer = ServerOptimizerState()
        _ = try bounded.apply(to: &model, optimizer: &optimizer)
        for j in 0..<dimension { #expect(abs(Double(model[j]) - honestMean[j]) <= 1e-5) }
    }
}
