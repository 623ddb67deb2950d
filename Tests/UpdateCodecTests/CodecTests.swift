import Foundation
import Testing
import TributaryWire
import UpdateCodec

@Suite struct CodecTests {
    static func header(dimension: Int) -> UpdateHeader {
        UpdateHeader(
            type: .update, task: "har", round: 7, device: "dev-1", sampleWeight: 120, dimension: dimension,
            baseModelHash: 0xABCD)
    }

    @Test(
        "encode → decode returns what the receiver should get, for every value encoding and index layout",
        arguments: ValueEncoding.allCases)
    func roundTrip(encoding: ValueEncoding) throws {
        var random = Random(seed: 3)
        var encoder = try UpdateEncoder()
        var decoder = try UpdateDecoder()
        for (n, k) in [(1, 1), (10, 3), (1_000, 10), (1_000, 400), (50_000, 500), (4_096, 4_096)] {
            var feedback = ErrorFeedback(dimension: n)
            let delta = random.vector(n)
            let compressed = delta.withUnsafeBufferPointer { feedback.compress($0, k: k, encoding: encoding) }
            let bytes = try encoder.encode(Self.header(dimension: n), compressed)
            let decoded = try bytes.withUnsafeBytes {
                try decoder.decode($0, expectedTask: "har", expectedDimension: n)
            }
            #expect(decoded.indices == compressed.indices)
            #expect(decoded.values == compressed.values)
            #expect(decoded.header.k == k && decoded.header.round == 7 && decoded.header.device == "dev-1")
            #expect(decoded.header.sampleWeight == 120 && decoded.header.baseModelHash == 0xABCD)
            // Quantisation error is bounded per encoding.
            for (position, index) in compressed.indices.enumerated() {
                let original = delta[Int(index)]
                let got = decoded.values[position]
                switch encoding {
                case .float32: #expect(got == original)
                case .float16: #expect(abs(got - original) <= 1e-3)
                case .int8: #expect(abs(got - original) <= 1.0 / 127 + 1e-6)
                case .ternary: #expect(got.sign == original.sign || original == 0)
                }
            }
        }
    }

    @Test("error feedback loses nothing: sent plus residual always equals the sum of all deltas")
    func noMassLost() {
        var random = Random(seed: 4)
        for encoding in ValueEncoding.allCases {
            var feedback = ErrorFeedback(dimension: 2_000, stochasticRounding: encoding == .int8)
            var total = [Double](repeating: 0, count: 2_000)
            var sent = [Double](repeating: 0, count: 2_000)
            for _ in 0..<20 {
                let delta = random.vector(2_000)
                for i in 0..<2_000 { total[i] += Double(delta[i]) }
                let c = delta.withUnsafeBufferPointer { feedback.compress($0, k: 40, encoding: encoding) }
                for (position, index) in c.indices.enumerated() { sent[Int(index)] += Double(c.values[position]) }
            }
            for i in 0..<2_000 {
                #expect(abs(sent[i] + Double(feedback.residual[i]) - total[i]) < 1e-3, "\(encoding) at \(i)")
            }
        }
    }

    @Test("indices travel as varint gaps or as a bitmap, whichever is smaller")
    func indexEncodingChoice() throws {
        var encoder = try UpdateEncoder(compress: false)
        var decoder = try UpdateDecoder()
        let n = 10_000
        let sparse = try encoder.encode(
            Self.header(dimension: n), indices: [5, 900, 9_999], values: [1, 2, 3],
            valueEncoding: .float32)
        let dense = try encoder.encode(
            Self.header(dimension: n), indices: (0..<5_000).map { UInt32($0 * 2) },
            values: Array(repeating: 1, count: 5_000), valueEncoding: .float32)
        #expect(try sparse.withUnsafeBytes { try decoder.header($0) }.indexEncoding == .deltaVarint)
        #expect(try dense.withUnsafeBytes { try decoder.header($0) }.indexEncoding == .bitmap)
        let back = try dense.withUnsafeBytes { try decoder.decode($0) }
        #expect(back.indices == (0..<5_000).map { UInt32($0 * 2) })
    }

    @Test("a 10^6-parameter update at k = 1 % is over 100× smaller than dense float32 with int8, over 250× ternary")
    func sizes() throws {
        var random = Random(seed: 5)
        let n = 1_000_000
        let delta = random.vector(n)
        var encoder = try UpdateEncoder()
        for (encoding, factor) in [(ValueEncoding.int8, 100), (.ternary, 250)] {
            var feedback = ErrorFeedback(dimension: n)
            let c = delta.withUnsafeBufferPointer { feedback.compress($0, k: n / 100, encoding: encoding) }
            let bytes = try encoder.encode(Self.header(dimension: n), c)
            #expect(bytes.count * factor < 4 * n, "\(encoding): \(bytes.count) bytes")
        }
    }

    @Test("scatter-add accumulates weighted values and equals the dense sum")
    func accumulate() throws {
        var random = Random(seed: 6)
        var encoder = try UpdateEncoder()
        var decoder = try UpdateDecoder()
        let n = 5_000
        var accumulator = [Float](repeating: 0, count: n)
        var expected = [Float](repeating: 0, count: n)
        for device in 0..<5 {
            var feedback = ErrorFeedback(dimension: n)
            let c = random.vector(n).withUnsafeBufferPointer { feedback.compress($0, k: 100, encoding: .float32) }
            let bytes = try encoder.encode(Self.header(dimension: n), c)
            let weight = Float(device + 1)
            try bytes.withUnsafeBytes { b in
                try accumulator.withUnsafeMutableBufferPointer {
                    _ = try decoder.accumulate(b, into: $0, weight: weight)
                }
            }
            for (position, index) in c.indices.enumerated() { expected[Int(index)] += weight * c.values[position] }
        }
        #expect(accumulator == expected)
    }

    @Test("a full model round trips and its hash checks out")
    func model() throws {
        var random = Random(seed: 7)
        let parameters = random.vector(3_333)
        var encoder = try UpdateEncoder()
        var decoder = try UpdateDecoder()
        let bytes = try encoder.encodeModel(task: "har", round: 4, parameters: parameters)
        let decoded = try bytes.withUnsafeBytes { try decoder.decode($0) }
        #expect(decoded.header.type == .denseModel)
        #expect(decoded.dense() == parameters)
        #expect(decoded.header.baseModelHash == ModelHash.of(parameters))
        let half = try encoder.encodeModel(task: "har", round: 4, parameters: parameters, valueEncoding: .float16)
        #expect(half.count < bytes.count)
    }

    @Test("warm-up starts at 25 % and reaches the target")
    func warmup() {
        #expect(abs(ErrorFeedback.warmupFraction(round: 0, rounds: 4, target: 0.01) - 0.25) < 1e-12)
        #expect(abs(ErrorFeedback.warmupFraction(round: 2, rounds: 4, target: 0.01) - 0.05) < 1e-6)
        #expect(ErrorFeedback.warmupFraction(round: 4, rounds: 4, target: 0.01) == 0.01)
        #expect(SparsityTarget.fraction(0.01).k(dimension: 1_000) == 10)
        #expect(SparsityTarget.count(5_000).k(dimension: 1_000) == 1_000)
    }
}

@Suite struct ModelDeltaTests {
    @Test("devices applying every sparse model delta hold exactly the published full model, and track the true one")
    func downlink() throws {
        var random = Random(seed: 21)
        let n = 20_000
        var truth = random.vector(n)
        var stream = ModelDeltaStream(initial: truth)
        var device = truth
        var encoder = try UpdateEncoder()
        var decoder = try UpdateDecoder()
        for round in 1...30 {
            for i in 0..<n { truth[i] += 0.01 * random.float() }
            let bytes = try stream.next(
                model: truth, task: "t", round: UInt32(round), k: n / 20, encoding: .int8,
                encoder: &encoder)
            let delta = try bytes.withUnsafeBytes { try decoder.decode($0, expectedTask: "t", expectedDimension: n) }
            #expect(delta.header.type == .sparseModelDelta)
            try delta.apply(to: &device)
            #expect(device == stream.deviceModel)
        }
        let error = zip(device, truth).map { abs($0 - $1) }.max() ?? 0
        #expect(error < 0.05)
        // A device that missed a delta is told so, and takes the full model.
        var stale = device
        stale[0] += 1
        let next = try stream.next(model: truth, task: "t", round: 31, k: 100, encoding: .int8, encoder: &encoder)
        let decoded = try next.withUnsafeBytes { try decoder.decode($0) }
        #expect(throws: DecodedUpdate.ApplyError.self) { try decoded.apply(to: &stale) }
    }
}
