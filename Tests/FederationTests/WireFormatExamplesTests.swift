import Foundation
import Testing
import TributaryMath
import UpdateCodec

@testable import Federation

/// The worked examples of docs/wire-format.md (fenced blocks with the info string `example <kind>`, JSON inside)
/// against the Swift code: the specification's numbers are the code's numbers. tools/python/check_vectors.py checks
/// the same blocks against an independent implementation written from the document.
///
/// Bit-level outputs (bytes, hashes, base64, selected devices) must match exactly; floating-point outputs within
/// 1e-6 relative. Float32 quantities are read by rounding each JSON number to float32.
@Suite struct WireFormatExamplesTests {
    static let document = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("docs/wire-format.md")

    static let kinds: Set<String> = [
        "model-hash", "values", "update-message", "aggregate", "partial", "selection", "staleness", "signatures",
    ]

    /// One example block: its kind, the line of its opening fence, and its JSON text.
    struct Block {
        var kind: String
        var line: Int
        var json: String
    }

    static func blocks() throws -> [Block] {
        let text = try String(contentsOf: document, encoding: .utf8)
        var blocks: [Block] = []
        var current: (kind: String, line: Int, lines: [Substring])?
        for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            if var open = current {
                if line.trimmingCharacters(in: .whitespaces) == "```" {
                    blocks.append(Block(kind: open.kind, line: open.line, json: open.lines.joined(separator: "\n")))
                    current = nil
                } else {
                    open.lines.append(line)
                    current = open
                }
            } else if line.hasPrefix("```example ") {
                let kind = line.dropFirst("```example ".count).trimmingCharacters(in: .whitespaces)
                current = (kind: kind, line: number + 1, lines: [])
            }
        }
        return blocks
    }

    /// The examples of `kind`, decoded, with the line of each.
    static func examples<T: Decodable>(_ kind: String, as type: T.Type) throws -> [(line: Int, example: T)] {
        var out: [(line: Int, example: T)] = []
        for block in try blocks() where block.kind == kind {
            let example = try JSONDecoder().decode(T.self, from: Data(block.json.utf8))
            out.append((line: block.line, example: example))
        }
        return out
    }

    // MARK: Helpers

    static func hex(_ bytes: some Sequence<UInt8>) -> String {
        let digits = Array("0123456789abcdef")
        var out = ""
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 15)])
        }
        return out
    }

    static func hex64(_ value: UInt64) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }

    static func hex32(_ value: UInt32) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 8 - digits.count) + digits
    }

    /// |got − want| ≤ 1e-6·|want| + 1e-12.
    static func isClose(_ got: Double, _ want: Double) -> Bool {
        abs(got - want) <= 1e-6 * abs(want) + 1e-12
    }

    static func expectClose(
        _ got: [Double], _ want: [Double], _ what: String, sourceLocation: SourceLocation = #_sourceLocation
    ) {
        #expect(
            got.count == want.count, "\(what): \(got.count) values, expected \(want.count)",
            sourceLocation: sourceLocation)
        for (i, (a, b)) in zip(got, want).enumerated() where !isClose(a, b) {
            Issue.record("\(what)[\(i)] = \(a), expected \(b)", sourceLocation: sourceLocation)
        }
    }

    /// Float32 outputs: bit for bit the float32 nearest to the expected number.
    static func expectFloats(
        _ got: [Float], _ want: [Double], _ what: String, sourceLocation: SourceLocation = #_sourceLocation
    ) {
        #expect(
            got.map(\.bitPattern) == want.map { Float($0).bitPattern }, "\(what): \(got), expected \(want)",
            sourceLocation: sourceLocation)
    }

    // MARK: Example shapes (the JSON of docs/wire-format.md)

    struct ModelHashExample: Decodable {
        struct Check: Decodable {
            var ascii: String
            var crc32c: String
            var crc32cSeeded: String
            enum CodingKeys: String, CodingKey {
                case ascii, crc32c
                case crc32cSeeded = "crc32c_from_5eed1234"
            }
        }
        var check: Check
        var parameters: [Double]
        var bytes: String
        var n: Int
        var registerStart: String
        var crc32c: String
        var crc32cSeeded: String
        var hash: String
        enum CodingKeys: String, CodingKey {
            case check, parameters, bytes, n, crc32c, hash
            case registerStart = "register_start"
            case crc32cSeeded = "crc32c_from_5eed1234"
        }
    }

    struct ValuesExample: Decodable {
        struct Case: Decodable {
            var encoding: String
            var values: [Double]
            var section: String
            var decoded: [Double]
        }
        var cases: [Case]
    }

    struct MessagesExample: Decodable {
        struct Message: Decodable {
            var type: String
            var task: String
            var round: UInt32
            var device: String
            var sampleWeight: UInt32
            var dimension: Int
            var indices: [UInt32]
            var values: [Double]
            var valueEncoding: String
            var modelHash: String
            var indexEncoding: String
            var hex: String
            enum CodingKeys: String, CodingKey {
                case type, task, round, device, dimension, indices, values, hex
                case sampleWeight = "sample_weight"
                case valueEncoding = "value_encoding"
                case modelHash = "model_hash"
                case indexEncoding = "index_encoding"
            }
        }
        var messages: [Message]
    }

    /// The `strategy` object: the aggregator configuration's keys, absent ones at their defaults.
    struct StrategyJSON: Decodable {
        var kind: String?
        var serverLearningRate: Double?
        var beta1: Double?
        var beta2: Double?
        var tau: Double?
        var momentum: Double?
        var trimFraction: Double?
        var clipNorm: Double?
        var stalenessExponent: Double?
        enum CodingKeys: String, CodingKey {
            case kind, beta1, beta2, tau, momentum
            case serverLearningRate = "server_learning_rate"
            case trimFraction = "trim_fraction"
            case clipNorm = "clip_norm"
            case stalenessExponent = "staleness_exponent"
        }

        func config() throws -> StrategyConfig {
            var config = StrategyConfig()
            if let kind {
                config.kind = try #require(StrategyKind(rawValue: kind), "unknown strategy kind \(kind)")
            }
            if let serverLearningRate { config.serverLearningRate = serverLearningRate }
            if let beta1 { config.beta1 = beta1 }
            if let beta2 { config.beta2 = beta2 }
            if let tau { config.tau = tau }
            if let momentum { config.momentum = momentum }
            if let trimFraction { config.trimFraction = trimFraction }
            if let clipNorm { config.clipNorm = clipNorm }
            if let stalenessExponent { config.stalenessExponent = stalenessExponent }
            try config.validate()
            return config
        }
    }

    struct UpdateJSON: Decodable {
        var device: String
        var indices: [UInt32]
        var values: [Double]
        var weight: Double
        var staleness: Int?

        var update: ClientUpdate {
            ClientUpdate(
                device: device, indices: indices, values: values.map { Float($0) }, weight: weight,
                staleness: staleness ?? 0)
        }
    }

    struct AggregateExample: Decodable {
        struct Expected: Decodable {
            var delta: [Double]
            var model: [Double]
            var totalWeight: Double
            var updateNorm: Double
            var clipped: Int
            var m: [Double]?
            var v: [Double]?
            enum CodingKeys: String, CodingKey {
                case delta, model, clipped, m, v
                case totalWeight = "total_weight"
                case updateNorm = "update_norm"
            }
        }
        struct Round: Decodable {
            var updates: [UpdateJSON]
            var expected: Expected
        }
        var name: String
        var strategy: StrategyJSON
        var dimension: Int
        var model: [Double]
        var rounds: [Round]
    }

    struct PartialExample: Decodable {
        struct ShardExpected: Decodable {
            var indices: [UInt32]
            var sums: [Double]
            var totalWeight: Double
            var devices: [String]
            var indicesBase64: String
            var sumsBase64: String
            enum CodingKeys: String, CodingKey {
                case indices, sums, devices
                case totalWeight = "total_weight"
                case indicesBase64 = "indices_base64"
                case sumsBase64 = "sums_base64"
            }
        }
        struct Shard: Decodable {
            var shard: String
            var updates: [UpdateJSON]
            var expected: ShardExpected
        }
        struct Expected: Decodable {
            var count: Int
            var totalWeight: Double
            var delta: [Double]
            var model: [Double]
            enum CodingKeys: String, CodingKey {
                case count, delta, model
                case totalWeight = "total_weight"
            }
        }
        var strategy: StrategyJSON
        var dimension: Int
        var model: [Double]
        var shards: [Shard]
        var expected: Expected
    }

    struct SelectionExample: Decodable {
        struct Draw: Decodable {
            struct Round: Decodable {
                var round: UInt32
                var devices: [String]
            }
            var mode: String
            var value: Double
            var seed: UInt64
            var rounds: [Round]
        }
        struct Generator: Decodable {
            var seed: UInt64
            var outputs: [String]
        }
        var online: [String]
        var candidates: [String]
        var draws: [Draw]
        var splitmix64: Generator
    }

    struct StalenessExample: Decodable {
        struct Case: Decodable {
            var staleness: Int
            var exponent: Double
            var factor: Double
        }
        var cases: [Case]
    }

    /// Δ of the updates as the aggregator computes it: the mean family's Σ wᵢcᵢuᵢ / Σ wᵢ from its partial, or
    /// for median and trimmed mean the statistic applied with η = 1 to a zero model (exact to float32).
    static func delta(of updates: [ClientUpdate], config: StrategyConfig, dimension: Int) throws -> [Double] {
        switch config.kind {
        case .median, .trimmedMean:
            var unit = config
            unit.serverLearningRate = 1
            var robust = RoundAggregator(config: unit, dimension: dimension)
            for update in updates { try robust.add(update) }
            var zero = [Float](repeating: 0, count: dimension)
            var optimizer = ServerOptimizerState()
            _ = try robust.apply(to: &zero, optimizer: &optimizer)
            return zero.map(Double.init)
        default:
            var aggregator = RoundAggregator(config: config, dimension: dimension)
            for update in updates { try aggregator.add(update) }
            return Self.delta(of: try aggregator.partial(), dimension: dimension)
        }
    }

    static func delta(of partial: PartialAggregate, dimension: Int) -> [Double] {
        let denominator = partial.totalWeight > 0 ? partial.totalWeight : Double(partial.count)
        var delta = [Double](repeating: 0, count: dimension)
        for (index, sum) in zip(partial.indices, partial.weightedSums) { delta[Int(index)] = sum / denominator }
        return delta
    }

    // MARK: Tests

    @Test("the document's example blocks are all of known kinds, and every kind is there")
    func blocksAreKnown() throws {
        let blocks = try Self.blocks()
        for block in blocks where !Self.kinds.contains(block.kind) {
            Issue.record("docs/wire-format.md:\(block.line): unknown example kind \(block.kind)")
        }
        #expect(Set(blocks.map(\.kind)) == Self.kinds)
    }

    @Test("model hash: CRC32C(P, 0) · 2³² + (CRC32C(P, 0x5EED1234) XOR n)")
    func modelHash() throws {
        let examples = try Self.examples("model-hash", as: ModelHashExample.self)
        #expect(!examples.isEmpty)
        for (line, example) in examples {
            let parameters = example.parameters.map { Float($0) }
            var bytes: [UInt8] = []
            for p in parameters { withUnsafeBytes(of: p.bitPattern.littleEndian) { bytes += $0 } }
            #expect(Self.hex(bytes) == example.bytes, "line \(line)")
            #expect(parameters.count == example.n, "line \(line)")
            let hash = ModelHash.of(parameters)
            #expect(Self.hex64(hash) == example.hash, "line \(line)")
            // The two halves are the two CRC32C passes (the low one XOR n).
            #expect(Self.hex32(UInt32(truncatingIfNeeded: hash >> 32)) == example.crc32c, "line \(line)")
            #expect(
                Self.hex32(UInt32(truncatingIfNeeded: hash) ^ UInt32(parameters.count)) == example.crc32cSeeded,
                "line \(line)")
            #expect(Self.hex32(~UInt32(0x5EED_1234)) == example.registerStart, "line \(line)")
            // The check string's CRCs (`check`) need TributaryWire.CRC32C, which this target does not depend on;
            // tools/python/check_vectors.py checks them.
        }
    }

    @Test("value sections: float32, float16 (clamped, ties to even), int8 (block scales, halves away), ternary")
    func valueSections() throws {
        let examples = try Self.examples("values", as: ValuesExample.self)
        #expect(!examples.isEmpty)
        var encoder = try UpdateEncoder(compress: false)
        var decoder = try UpdateDecoder()
        for (line, example) in examples {
            for (number, c) in example.cases.enumerated() {
                let what = "line \(line), case \(number) (\(c.encoding))"
                let encoding = try #require(ValueEncoding(name: c.encoding), "\(what): unknown encoding")
                let k = c.values.count
                // k = n: dense indices, so the body is the value section alone.
                let header = UpdateHeader(type: .update, task: "t", round: 0, dimension: k)
                let bytes = try encoder.encode(
                    header, indices: (0..<k).map { UInt32($0) }, values: c.values.map { Float($0) },
                    valueEncoding: encoding)
                let sectionLength = c.section.count / 2
                let section = bytes[(bytes.count - 4 - sectionLength)..<(bytes.count - 4)]
                #expect(Self.hex(section) == c.section, "\(what): section")
                let decoded = try bytes.withUnsafeBytes { try decoder.decode($0) }
                #expect(decoded.header.indexEncoding == .dense && !decoded.header.compressed, "\(what)")
                #expect(decoded.header.bodyByteCount == sectionLength, "\(what): body length")
                Self.expectFloats(decoded.values, c.decoded, "\(what): decoded")
            }
        }
    }

    @Test("whole messages: header layout, the index encoding chosen, the checksum")
    func updateMessages() throws {
        let examples = try Self.examples("update-message", as: MessagesExample.self)
        #expect(!examples.isEmpty)
        var encoder = try UpdateEncoder(compress: false)
        var decoder = try UpdateDecoder()
        for (line, example) in examples {
            for (number, m) in example.messages.enumerated() {
                let what = "line \(line), message \(number) (\(m.type))"
                let encoding = try #require(ValueEncoding(name: m.valueEncoding), "\(what): encoding")
                let hash = try #require(UInt64(m.modelHash, radix: 16), "\(what): hash")
                let values = m.values.map { Float($0) }
                let bytes: [UInt8]
                switch m.type {
                case "denseModel":
                    #expect(ModelHash.of(values) == hash, "\(what): a model carries its own hash")
                    bytes = try encoder.encodeModel(
                        task: m.task, round: m.round, parameters: values, valueEncoding: encoding)
                case "update":
                    let header = UpdateHeader(
                        type: .update, task: m.task, round: m.round, device: m.device, sampleWeight: m.sampleWeight,
                        dimension: m.dimension, baseModelHash: hash)
                    bytes = try encoder.encode(header, indices: m.indices, values: values, valueEncoding: encoding)
                default:
                    Issue.record("\(what): unexpected type")
                    continue
                }
                #expect(Self.hex(bytes) == m.hex, "\(what): bytes")
                let decoded = try bytes.withUnsafeBytes {
                    try decoder.decode($0, expectedTask: m.task, expectedDimension: m.dimension)
                }
                let h = decoded.header
                #expect(h.task == m.task && h.round == m.round && h.device == m.device, "\(what)")
                #expect(h.sampleWeight == m.sampleWeight && h.dimension == m.dimension, "\(what)")
                #expect(h.baseModelHash == hash && h.valueEncoding == encoding, "\(what)")
                let indexNames: [IndexEncoding: String] = [
                    .deltaVarint: "deltaVarint", .bitmap: "bitmap", .dense: "dense", .raw32: "raw32",
                ]
                #expect(indexNames[h.indexEncoding] == m.indexEncoding, "\(what): index encoding")
                #expect(decoded.indices == m.indices, "\(what): indices")
            }
        }
    }

    @Test("every strategy: Δ, the model, the optimizer moments, the weight and norms, round after round")
    func aggregates() throws {
        let examples = try Self.examples("aggregate", as: AggregateExample.self)
        #expect(!examples.isEmpty)
        for (line, example) in examples {
            let config = try example.strategy.config()
            var model = example.model.map { Float($0) }
            var optimizer = ServerOptimizerState()
            for (number, round) in example.rounds.enumerated() {
                let what = "line \(line), \(example.name), round \(number + 1)"
                let updates = round.updates.map(\.update)
                let expected = round.expected
                let delta = try Self.delta(of: updates, config: config, dimension: example.dimension)
                Self.expectClose(delta, expected.delta, "\(what): delta")
                var aggregator = RoundAggregator(config: config, dimension: example.dimension)
                for update in updates { try aggregator.add(update) }
                let report = try aggregator.apply(to: &model, optimizer: &optimizer)
                Self.expectClose(model.map(Double.init), expected.model, "\(what): model")
                if let m = expected.m {
                    Self.expectClose(optimizer.m.map(Double.init), m, "\(what): m")
                } else {
                    #expect(optimizer.m.isEmpty, "\(what): the strategy keeps no m")
                }
                if let v = expected.v {
                    Self.expectClose(optimizer.v.map(Double.init), v, "\(what): v")
                } else {
                    #expect(optimizer.v.isEmpty, "\(what): the strategy keeps no v")
                }
                #expect(Self.isClose(report.totalWeight, expected.totalWeight), "\(what): total weight")
                #expect(Self.isClose(report.updateNorm, expected.updateNorm), "\(what): update norm")
                #expect(report.clipped == expected.clipped, "\(what): clipped")
                #expect(report.participants == updates.count, "\(what): participants")
            }
            #expect(optimizer.step == example.rounds.count, "line \(line)")
        }
    }

    @Test("shard partials: the sums, their base64 in the message, and the root's merge")
    func partials() throws {
        let examples = try Self.examples("partial", as: PartialExample.self)
        #expect(!examples.isEmpty)
        for (line, example) in examples {
            let config = try example.strategy.config()
            var root = RoundAggregator(config: config, dimension: example.dimension)
            for shard in example.shards.sorted(by: { $0.shard < $1.shard }) {
                let what = "line \(line), shard \(shard.shard)"
                var aggregator = RoundAggregator(config: config, dimension: example.dimension)
                for update in shard.updates { try aggregator.add(update.update) }
                let partial = try aggregator.partial()
                #expect(partial.indices == shard.expected.indices, "\(what): indices")
                Self.expectClose(partial.weightedSums, shard.expected.sums, "\(what): sums")
                #expect(Self.isClose(partial.totalWeight, shard.expected.totalWeight), "\(what): weight")
                #expect(partial.devices == shard.expected.devices, "\(what): devices")
                let message = PartialMessage(task: "har", round: 1, shard: shard.shard, seq: 1, partial: partial)
                #expect(message.indices == shard.expected.indicesBase64, "\(what): indices base64")
                #expect(message.sums == shard.expected.sumsBase64, "\(what): sums base64")
                // The root merges what travels: the JSON message, decoded.
                try root.merge(try PartialMessage.decode(message.json).partial())
            }
            let what = "line \(line), root"
            #expect(root.count == example.expected.count, "\(what): count")
            #expect(Self.isClose(root.totalWeight, example.expected.totalWeight), "\(what): weight")
            Self.expectClose(
                Self.delta(of: try root.partial(), dimension: example.dimension), example.expected.delta,
                "\(what): delta")
            var model = example.model.map { Float($0) }
            var optimizer = ServerOptimizerState()
            _ = try root.apply(to: &model, optimizer: &optimizer)
            Self.expectClose(model.map(Double.init), example.expected.model, "\(what): model")
        }
    }

    @Test("selection: candidates sorted by bytes, SplitMix64 seeded with seed XOR round, partial Fisher–Yates")
    func selection() throws {
        let examples = try Self.examples("selection", as: SelectionExample.self)
        #expect(!examples.isEmpty)
        for (line, example) in examples {
            #expect(example.online.sorted() == example.candidates, "line \(line): candidates")
            var random = SplitMix64(seed: example.splitmix64.seed)
            let outputs = example.splitmix64.outputs.map { _ in Self.hex64(random.next()) }
            #expect(outputs == example.splitmix64.outputs, "line \(line): SplitMix64")
            for draw in example.draws {
                let mode = try #require(Selection.Mode(rawValue: draw.mode), "line \(line): mode \(draw.mode)")
                var machine = RoundMachine(
                    configuration: .init(
                        selection: Selection(mode: mode, value: draw.value, seed: draw.seed), minParticipants: 1,
                        roundMilliseconds: 1_000),
                    modelHash: 1)
                for device in example.online { _ = machine.handle(.deviceOnline(device, now: 0)) }
                var actions = machine.handle(.start(now: 0))
                for (i, round) in draw.rounds.enumerated() {
                    let what = "line \(line), \(draw.mode) \(draw.value), round \(round.round)"
                    var plan: RoundMachine.Plan?
                    for case .announce(let announced) in actions { plan = announced }
                    #expect(plan?.round == round.round, "\(what): the rounds follow one another from 1")
                    #expect(plan?.devices == round.devices, "\(what)")
                    #expect(
                        RoundMachine.draw(
                            example.candidates, count: round.devices.count, seed: draw.seed ^ UInt64(round.round))
                            == round.devices, "\(what): draw")
                    // Nobody reports: the deadline fails the round and the next one is drawn.
                    actions = machine.handle(.tick(now: Int64(i + 1) * 1_000))
                }
            }
        }
    }

    @Test("staleness factor (1 + s)^(−a), exactly 1 for s = 0 or a = 0, and as the aggregator weighs updates")
    func staleness() throws {
        let examples = try Self.examples("staleness", as: StalenessExample.self)
        #expect(!examples.isEmpty)
        for (line, example) in examples {
            for c in example.cases {
                let what = "line \(line), s \(c.staleness), a \(c.exponent)"
                let factor = StalenessWeight.factor(staleness: c.staleness, exponent: c.exponent)
                #expect(Self.isClose(factor, c.factor), "\(what)")
                var aggregator = RoundAggregator(config: StrategyConfig(stalenessExponent: c.exponent), dimension: 1)
                try aggregator.add(
                    ClientUpdate(device: "d", indices: [0], values: [1], weight: 1, staleness: c.staleness))
                #expect(Self.isClose(aggregator.totalWeight, c.factor), "\(what): weight of a 1-sample update")
            }
        }
    }
}
