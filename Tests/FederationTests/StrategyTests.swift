import Federation
import Foundation
import Testing

/// Every strategy against the dense reference in StrategyTestSupport.swift, round after round.
@Suite struct StrategyTests {
    static let dimension = 48

    static func config(_ kind: StrategyKind, clipNorm: Double?) -> StrategyConfig {
        StrategyConfig(
            kind: kind, serverLearningRate: kind == .fedAdam || kind == .fedYogi || kind == .fedAdagrad ? 0.05 : 0.8,
            beta1: 0.85, beta2: 0.95, tau: 1e-2, momentum: 0.7, trimFraction: 0.25, clipNorm: clipNorm,
            stalenessExponent: 0.5)
    }

    @Test(
        "every strategy matches the dense reference over several rounds, optimizer state carried",
        arguments: StrategyKind.allCases)
    func matchesDenseReference(kind: StrategyKind) throws {
        for (variant, clipNorm) in [nil, 3.0].enumerated() {
            let config = Self.config(kind, clipNorm: clipNorm)
            var random = StrategyTestRandom(seed: 0xC0FFEE &+ UInt64(variant))
            var model = (0..<Self.dimension).map { _ in Float(random.uniform(-1, 1)) }
            var optimizer = ServerOptimizerState()
            var reference = StrategyReference.Server(model: model)
            var aggregator = RoundAggregator(config: config, dimension: Self.dimension)
            for round in 0..<6 {
                let n = random.int(1...9)
                let updates = (0..<n).map { i in
                    random.update(
                        device: "d\(round)-\(i)", dimension: Self.dimension, density: [0.1, 0.4, 1][i % 3],
                        weight: i == 2 ? 0 : nil, staleness: 0...4)
                }
                for update in updates { try aggregator.add(update) }
                #expect(aggregator.count == n)
                #expect(aggregator.devices == updates.map(\.device))

                let report = try aggregator.apply(to: &model, optimizer: &optimizer)
                aggregator.reset()
                #expect(aggregator.count == 0 && aggregator.totalWeight == 0 && aggregator.devices.isEmpty)

                let delta = StrategyReference.delta(updates, dimension: Self.dimension, config: config)
                let before = reference.x
                reference.apply(delta, config: config)
                let mismatch = StrategyReference.firstMismatch(model, reference.x, 1e-5)
                #expect(mismatch == nil, "\(kind) clip \(String(describing: clipNorm)) round \(round)")

                let weights = updates.map { StrategyReference.effectiveWeight($0, exponent: config.stalenessExponent) }
                #expect(report.participants == n)
                let clipped = updates.filter { update in
                    let u = StrategyReference.dense(update, dimension: Self.dimension)
                    return StrategyReference.clipFactor(u, clipNorm: clipNorm) < 1
                }
                #expect(report.clipped == clipped.count)
                #expect(StrategyReference.isClose(report.totalWeight, weights.reduce(0, +), 1e-12))
                #expect(StrategyReference.isClose(report.updateNorm, StrategyReference.norm(delta), 1e-9))
                let moved = zip(reference.x, before).map { $0 - $1 }
                #expect(StrategyReference.isClose(report.appliedNorm, StrategyReference.norm(moved), 1e-5))
            }
            #expect(optimizer.step == 6)
            switch kind {
            case .fedAvg, .median, .trimmedMean: #expect(optimizer.m.isEmpty && optimizer.v.isEmpty)
            case .fedAvgM: #expect(optimizer.m.count == Self.dimension && optimizer.v.isEmpty)
            default: #expect(optimizer.m.count == Self.dimension && optimizer.v.count == Self.dimension)
            }
        }
    }

    @Test("FedAvgM and the adaptive strategies decay m at coordinates no update touched")
    func untouchedCoordinatesStillDecay() throws {
        for kind in [StrategyKind.fedAvgM, .fedAdam, .fedYogi, .fedAdagrad] {
            let config = StrategyConfig(kind: kind, serverLearningRate: 1)
            var aggregator = RoundAggregator(config: config, dimension: 3)
            var model: [Float] = [0, 0, 0]
            var optimizer = ServerOptimizerState()
            try aggregator.add(ClientUpdate(device: "a", indices: [0], values: [1], weight: 1))
            _ = try aggregator.apply(to: &model, optimizer: &optimizer)
            aggregator.reset()
            let firstM = optimizer.m[0]
            // Second round touches only coordinate 2: m[0] must decay by β (β₁), so x[0] keeps moving.
            try aggregator.add(ClientUpdate(device: "a", indices: [2], values: [1], weight: 1))
            let x0 = model[0]
            _ = try aggregator.apply(to: &model, optimizer: &optimizer)
            let beta = kind == .fedAvgM ? config.momentum : config.beta1
            #expect(abs(Double(optimizer.m[0]) - beta * Double(firstM)) < 1e-6, "\(kind)")
            #expect(model[0] > x0, "\(kind)")
            #expect(model[1] == 0, "\(kind)")
        }
    }

    @Test("FedBuff staleness: weights are nᵢ·(1+sᵢ)^(−a) and the aggregate follows them")
    func stalenessWeighting() throws {
        var random = StrategyTestRandom(seed: 41)
        let stalenesses = [0, 1, 2, 3, 7, 100, 12_345, 1 << 40]
        for exponent in [0, 0.5, 1, 2.3, 0.01, 7] {
            let config = StrategyConfig(kind: .fedAvg, stalenessExponent: exponent)
            var aggregator = RoundAggregator(config: config, dimension: 16)
            var updates = [ClientUpdate]()
            var expectedTotal = 0.0
            for (i, staleness) in stalenesses.enumerated() {
                var update = random.update(device: "d\(i)", dimension: 16, density: 0.5)
                update.staleness = staleness
                updates.append(update)
                let before = aggregator.totalWeight
                try aggregator.add(update)
                let factor = pow(1 + Double(staleness), -exponent)
                #expect(
                    StrategyReference.isClose(aggregator.totalWeight - before, update.weight * factor, 1e-13),
                    "exponent \(exponent) staleness \(staleness)")
                expectedTotal += update.weight * factor
            }
            #expect(StrategyReference.isClose(aggregator.totalWeight, expectedTotal, 1e-13))
            // Fresh updates are not discounted at all.
            if exponent == 0 { #expect(aggregator.totalWeight == updates.map(\.weight).reduce(0, +)) }

            var model = [Float](repeating: 0, count: 16)
            var optimizer = ServerOptimizerState()
            _ = try aggregator.apply(to: &model, optimizer: &optimizer)
            var expected = [Double](repeating: 0, count: 16)
            for update in updates {
                let w = update.weight * pow(1 + Double(update.staleness), -exponent)
                let u = StrategyReference.dense(update, dimension: 16)
                for j in 0..<16 { expected[j] += w * u[j] / expectedTotal }
            }
            #expect(StrategyReference.firstMismatch(model, expected, 1e-6) == nil, "exponent \(exponent)")
        }
    }

    @Test("a stale update weighs less than a fresh one with the same samples")
    func staleWeighsLess() throws {
        var aggregator = RoundAggregator(config: StrategyConfig(stalenessExponent: 1), dimension: 1)
        try aggregator.add(ClientUpdate(device: "fresh", indices: [0], values: [1], weight: 10))
        try aggregator.add(ClientUpdate(device: "stale", indices: [0], values: [-1], weight: 10, staleness: 3))
        var model: [Float] = [0]
        var optimizer = ServerOptimizerState()
        _ = try aggregator.apply(to: &model, optimizer: &optimizer)
        // (10·1 − 10·¼) / (10 + 2.5) = 0.6
        #expect(abs(model[0] - 0.6) < 1e-6)
    }
}
