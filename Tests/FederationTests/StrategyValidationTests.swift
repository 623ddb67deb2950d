import Federation
import Foundation
import Testing

/// Bad input is refused with a typed error and leaves the aggregator as it was.
@Suite struct StrategyValidationTests {
    static let dimension = 8

    static let badUpdates: [(String, ClientUpdate)] = [
        ("unsorted indices", ClientUpdate(device: "x", indices: [3, 1], values: [1, 1], weight: 1)),
        ("duplicate indices", ClientUpdate(device: "x", indices: [2, 2], values: [1, 1], weight: 1)),
        ("index at the dimension", ClientUpdate(device: "x", indices: [1, 8], values: [1, 1], weight: 1)),
        ("huge index", ClientUpdate(device: "x", indices: [UInt32.max], values: [1], weight: 1)),
        ("more indices than values", ClientUpdate(device: "x", indices: [1, 2], values: [1], weight: 1)),
        ("more values than indices", ClientUpdate(device: "x", indices: [1], values: [1, 2], weight: 1)),
        ("NaN value", ClientUpdate(device: "x", indices: [0, 1], values: [1, .nan], weight: 1)),
        ("infinite value", ClientUpdate(device: "x", indices: [0], values: [-.infinity], weight: 1)),
        ("negative weight", ClientUpdate(device: "x", indices: [0], values: [1], weight: -1)),
        ("NaN weight", ClientUpdate(device: "x", indices: [0], values: [1], weight: .nan)),
        ("infinite weight", ClientUpdate(device: "x", indices: [0], values: [1], weight: .infinity)),
        ("negative staleness", ClientUpdate(device: "x", indices: [0], values: [1], weight: 1, staleness: -1)),
    ]

    static let good = [
        ClientUpdate(device: "a", indices: [0, 3, 7], values: [1, -2, 0.5], weight: 3),
        ClientUpdate(device: "b", indices: [1, 3], values: [4, 1], weight: 2, staleness: 1),
        ClientUpdate(device: "c", indices: [3, 6], values: [-1, 2], weight: 1),
    ]

    @Test("malformed updates are refused as invalidUpdate and change nothing", arguments: StrategyKind.allCases)
    func rejectedUpdates(kind: StrategyKind) throws {
        let config = StrategyConfig(kind: kind, clipNorm: 3)
        // Reference: the good updates only.
        var clean = RoundAggregator(config: config, dimension: Self.dimension)
        for update in Self.good { try clean.add(update) }
        var cleanModel = [Float](repeating: 1, count: Self.dimension)
        var cleanOptimizer = ServerOptimizerState()
        let cleanReport = try clean.apply(to: &cleanModel, optimizer: &cleanOptimizer)

        var aggregator = RoundAggregator(config: config, dimension: Self.dimension)
        for (i, update) in Self.good.enumerated() {
            try aggregator.add(update)
            for (name, bad) in Self.badUpdates {
                let (count, weight, devices) = (aggregator.count, aggregator.totalWeight, aggregator.devices)
                let error = #expect(throws: AggregationError.self, "\(name)") { try aggregator.add(bad) }
                guard case .invalidUpdate(let reason) = error else {
                    Issue.record("\(name): \(String(describing: error)) is not invalidUpdate")
                    continue
                }
                #expect(!reason.isEmpty)
                #expect(aggregator.count == count && aggregator.totalWeight == weight, "\(name) after \(i)")
                #expect(aggregator.devices == devices)
            }
        }
        var model = [Float](repeating: 1, count: Self.dimension)
        var optimizer = ServerOptimizerState()
        let report = try aggregator.apply(to: &model, optimizer: &optimizer)
        #expect(model == cleanModel)
        #expect(optimizer == cleanOptimizer)
        #expect(report == cleanReport)
    }

    @Test("an update whose weight would make the round's total infinite is refused")
    func weightOverflow() throws {
        var aggregator = RoundAggregator(config: StrategyConfig(maxWeight: .greatestFiniteMagnitude), dimension: 2)
        try aggregator.add(ClientUpdate(device: "a", indices: [0], values: [1], weight: 1.5e308))
        let error = #expect(throws: AggregationError.self) {
            try aggregator.add(ClientUpdate(device: "b", indices: [1], values: [1], weight: 1.5e308))
        }
        if case .invalidUpdate = error {} else { Issue.record("\(String(describing: error))") }
        #expect(aggregator.count == 1 && aggregator.totalWeight == 1.5e308 && aggregator.devices == ["a"])
    }

    @Test("updates above the weight or value bounds, or with a NaN, are refused with the bound they break")
    func bounds() throws {
        let config = StrategyConfig(maxWeight: 100, maxAbsValue: 2)
        #expect(config.violation(weight: 100, values: [2, -2, 0]) == nil)
        #expect(config.violation(weight: 101, values: [1]) == .weightTooLarge)
        #expect(config.violation(weight: 1, values: [0, 2.001]) == .valueOutOfRange)
        #expect(config.violation(weight: 1, values: [-3, 0]) == .valueOutOfRange)
        #expect(config.violation(weight: 1, values: [.nan]) == .valueOutOfRange)
        #expect(config.violation(weight: 1, values: [-.infinity]) == .valueOutOfRange)
        var aggregator = RoundAggregator(config: config, dimension: 3)
        #expect(throws: AggregationError.outOfBounds(.weightTooLarge, device: "a")) {
            try aggregator.add(ClientUpdate(device: "a", indices: [0], values: [1], weight: 4_294_967_295))
        }
        #expect(throws: AggregationError.outOfBounds(.valueOutOfRange, device: "b")) {
            try aggregator.add(ClientUpdate(device: "b", indices: [0, 2], values: [1, 1e30], weight: 1))
        }
        #expect(aggregator.count == 0 && aggregator.totalWeight == 0)
    }

    @Test("clipping, the weight bound and the value bound are on by default; clip_norm: null turns clipping off")
    func boundsByDefault() throws {
        let defaults = StrategyConfig()
        #expect(defaults.clipNorm == StrategyConfig.defaultClipNorm)
        #expect(defaults.maxWeight == StrategyConfig.defaultMaxWeight)
        #expect(defaults.maxAbsValue == StrategyConfig.defaultMaxAbsValue)
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        #expect(try decoder.decode(StrategyConfig.self, from: Data("{}".utf8)) == defaults)
        let off = try decoder.decode(StrategyConfig.self, from: Data(#"{"clip_norm":null,"max_weight":5}"#.utf8))
        #expect(off.clipNorm == nil && off.maxWeight == 5)
        // Encoding keeps "no clipping": it decodes back as no clipping, not as the default.
        let again = try JSONDecoder().decode(StrategyConfig.self, from: JSONEncoder().encode(off))
        #expect(again == off)
        for bad in [
            StrategyConfig(maxWeight: 0.5), StrategyConfig(maxAbsValue: .infinity), StrategyConfig(clipNorm: .infinity),
        ] {
            #expect(throws: StrategyConfigError.self) { try bad.validate() }
        }
    }

    @Test("median and trimmed mean refuse partials", arguments: [StrategyKind.median, .trimmedMean])
    func notMergeable(kind: StrategyKind) throws {
        var aggregator = RoundAggregator(config: StrategyConfig(kind: kind), dimension: 4)
        try aggregator.add(ClientUpdate(device: "a", indices: [1], values: [1], weight: 1))
        #expect(throws: AggregationError.notMergeable(kind)) { try aggregator.partial() }
        let partial = PartialAggregate(
            dimension: 4, indices: [0], weightedSums: [1], totalWeight: 1, count: 1, devices: ["b"])
        #expect(throws: AggregationError.notMergeable(kind)) { try aggregator.merge(partial) }
        #expect(aggregator.count == 1)
    }

    @Test("malformed or mis-sized partials are refused and change nothing")
    func rejectedPartials() throws {
        var aggregator = RoundAggregator(config: StrategyConfig(kind: .fedAdam), dimension: 4)
        try aggregator.add(ClientUpdate(device: "a", indices: [1], values: [1], weight: 1))
        let before = try aggregator.partial()
        func partial(_ indices: [UInt32], _ sums: [Double], dimension: Int = 4, weight: Double = 1, count: Int = 1)
            -> PartialAggregate
        {
            PartialAggregate(
                dimension: dimension, indices: indices, weightedSums: sums, totalWeight: weight, count: count,
                devices: ["b"])
        }
        #expect(throws: AggregationError.dimensionMismatch(expected: 4, got: 5)) {
            try aggregator.merge(partial([0], [1], dimension: 5))
        }
        for bad in [
            partial([2, 1], [1, 1]), partial([4], [1]), partial([0, 1], [1]), partial([0], [.nan]),
            partial([0], [1], weight: -1), partial([0], [1], weight: .infinity), partial([0], [1], count: -1),
            partial([0], [1], count: .max),
        ] {
            let error = #expect(throws: AggregationError.self) { try aggregator.merge(bad) }
            if case .invalidUpdate = error {} else { Issue.record("\(String(describing: error)) for \(bad)") }
        }
        #expect(try aggregator.partial() == before)
    }

    @Test("apply refuses an empty round and mis-sized models or optimizer state, changing nothing")
    func applyErrors() throws {
        var aggregator = RoundAggregator(config: StrategyConfig(kind: .fedYogi), dimension: 4)
        var model: [Float] = [1, 2, 3, 4]
        var optimizer = ServerOptimizerState()
        #expect(throws: AggregationError.empty) { try aggregator.apply(to: &model, optimizer: &optimizer) }
        try aggregator.add(ClientUpdate(device: "a", indices: [1], values: [1], weight: 1))
        var short: [Float] = [1, 2, 3]
        #expect(throws: AggregationError.dimensionMismatch(expected: 4, got: 3)) {
            try aggregator.apply(to: &short, optimizer: &optimizer)
        }
        var wrongState = ServerOptimizerState(dimension: 6)
        #expect(throws: AggregationError.dimensionMismatch(expected: 4, got: 6)) {
            try aggregator.apply(to: &model, optimizer: &wrongState)
        }
        #expect(model == [1, 2, 3, 4] && short == [1, 2, 3] && wrongState == ServerOptimizerState(dimension: 6))
        aggregator.reset()
        #expect(throws: AggregationError.empty) { try aggregator.apply(to: &model, optimizer: &optimizer) }
        #expect(optimizer.step == 0)
    }

    @Test(
        "the default configuration is valid, and each bad setting is named",
        arguments: [
            ("serverLearningRate", StrategyConfig(serverLearningRate: 0)),
            ("serverLearningRate", StrategyConfig(serverLearningRate: .infinity)),
            ("serverLearningRate", StrategyConfig(serverLearningRate: .nan)),
            ("beta1", StrategyConfig(beta1: 1)), ("beta1", StrategyConfig(beta1: -0.1)),
            ("beta2", StrategyConfig(beta2: 1.5)), ("beta2", StrategyConfig(beta2: .nan)),
            ("momentum", StrategyConfig(momentum: 1)), ("tau", StrategyConfig(tau: 0)),
            ("tau", StrategyConfig(tau: -1)),
            ("trimFraction", StrategyConfig(trimFraction: 0.5)), ("trimFraction", StrategyConfig(trimFraction: -0.01)),
            ("clipNorm", StrategyConfig(clipNorm: 0)), ("clipNorm", StrategyConfig(clipNorm: .nan)),
            ("stalenessExponent", StrategyConfig(stalenessExponent: -1)),
            ("stalenessExponent", StrategyConfig(stalenessExponent: .infinity)),
        ])
    func configValidation(field: String, config: StrategyConfig) throws {
        try StrategyConfig().validate()
        try StrategyConfig(kind: .trimmedMean, beta1: 0, trimFraction: 0.49, clipNorm: 1, stalenessExponent: 0)
            .validate()
        let error = #expect(throws: StrategyConfigError.self) { try config.validate() }
        #expect(error?.field == field)
        #expect(error.map { !$0.message.isEmpty } == true)
    }

    @Test("configurations round-trip through JSON; missing keys take their defaults")
    func configCoding() throws {
        let config = StrategyConfig(kind: .trimmedMean, serverLearningRate: 0.5, trimFraction: 0.2, clipNorm: 10)
        let decoded = try JSONDecoder().decode(StrategyConfig.self, from: JSONEncoder().encode(config))
        #expect(decoded == config)
        let partial = try JSONDecoder().decode(StrategyConfig.self, from: Data(#"{"kind":"fedyogi","tau":0.01}"#.utf8))
        var expected = StrategyConfig(kind: .fedYogi)
        expected.tau = 0.01
        #expect(partial == expected)
        #expect(throws: DecodingError.self) {
            try JSONDecoder().decode(StrategyConfig.self, from: Data(#"{"kind":"fedsgd"}"#.utf8))
        }
        // The control-message JSON of the protocol uses snake_case keys.
        let snake = JSONDecoder()
        snake.keyDecodingStrategy = .convertFromSnakeCase
        let fromSnake = try snake.decode(
            StrategyConfig.self, from: Data(#"{"kind":"trimmed_mean","server_learning_rate":0.5,"clip_norm":3}"#.utf8))
        #expect(fromSnake == StrategyConfig(kind: .trimmedMean, serverLearningRate: 0.5, clipNorm: 3))
        #expect(
            StrategyKind.allCases.map(\.rawValue) == [
                "fedavg", "fedavgm", "fedadam", "fedyogi", "fedadagrad", "median", "trimmed_mean",
            ])
    }
}
