import Testing
import TributaryMath
import TributaryWire

@testable import UpdateCodec

/// The update pipeline's stages, each against arithmetic done here, then the whole row.
@Suite struct PipelineTests {
    @Test("delta: local − global, coordinate by coordinate")
    func delta() {
        let local: [Float] = [1, 2.5, -3, 0]
        let global: [Float] = [0.5, 2.5, 1, -2]
        var out = [Float](repeating: 9, count: 4)
        local.withUnsafeBufferPointer { l in
            global.withUnsafeBufferPointer { g in
                out.withUnsafeMutableBufferPointer { DeltaStage.apply(local: l, global: g, into: $0) }
            }
        }
        #expect(out == [0.5, 0, -4, 2])
    }

    @Test("clip: a delta longer than the bound is scaled onto it; a shorter one, or no bound, is left alone")
    func clip() {
        var v: [Float] = [3, 4]  // norm 5
        let (norm, factor) = v.withUnsafeMutableBufferPointer { ClipStage(maxNorm: 1).apply($0) }
        #expect(norm == 5 && abs(factor - 0.2) < 1e-7)
        #expect(abs(v[0] - 0.6) < 1e-6 && abs(v[1] - 0.8) < 1e-6)
        var short: [Float] = [0.3, 0.4]
        #expect(short.withUnsafeMutableBufferPointer { ClipStage(maxNorm: 1).apply($0).factor } == 1)
        #expect(short == [0.3, 0.4])
        var any: [Float] = [300, 400]
        #expect(any.withUnsafeMutableBufferPointer { ClipStage().apply($0).factor } == 1 && any == [300, 400])
    }

    @Test("noise: deviation 0 changes nothing; otherwise the added noise has mean 0 and the stated variance")
    func noise() {
        var zero = NoiseStage(deviation: 0)
        var v: [Float] = [1, 2, 3]
        v.withUnsafeMutableBufferPointer { zero.apply($0) }
        #expect(v == [1, 2, 3])
        let n = 200_000
        var stage = NoiseStage(deviation: 0.5, seed: 11)
        var x = [Float](repeating: 1, count: n)
        x.withUnsafeMutableBufferPointer { stage.apply($0) }
        var sum = 0.0
        var squares = 0.0
        for value in x {
            let e = Double(value) - 1
            sum += e
            squares += e * e
        }
        let mean = sum / Double(n)
        let variance = squares / Double(n) - mean * mean
        // σ² = 0.25; standard errors at n = 2·10⁵: mean 0.0011, variance 0.0008. Bounds: 5 of them.
        #expect(abs(mean) < 0.0056)
        #expect(abs(variance - 0.25) < 0.004)
        // The same seed gives the same noise.
        var again = NoiseStage(deviation: 0.5, seed: 11)
        var y = [Float](repeating: 1, count: n)
        y.withUnsafeMutableBufferPointer { again.apply($0) }
        #expect(x == y)
    }

    @Test("error feedback: what is not delivered stays in the residual, exactly")
    func feedback() {
        var ef = ErrorFeedback(dimension: 4)
        let d1: [Float] = [1, -2, 0.5, 0.25]
        d1.withUnsafeBufferPointer { ef.accumulate($0) }
        let picked = ef.selectIndices(k: 2)
        #expect(picked == [0, 1])
        ef.settle(indices: picked, delivered: [0.9, -2])
        #expect(ef.residual == [1 - 0.9, 0, 0.5, 0.25])
        d1.withUnsafeBufferPointer { ef.accumulate($0) }
        #expect(ef.residual == [1 - 0.9 + 1, -2, 1, 0.5])
    }

    @Test("quantize: int8 codes decode to what the stage says the receiver will get")
    func quantize() throws {
        var random = SplitMix64(seed: 1)
        let values: [Float] = [0.5, -1.27, 0.01, 1.27]
        let out = QuantizeStage(encoding: .int8).apply(values, random: &random)
        for (a, b) in zip(out.decoded, values) { #expect(abs(a - b) <= 1.27 / 127 / 2 + 1e-6) }
        var encoder = try UpdateEncoder()
        let message = try encoder.encode(
            UpdateHeader(type: .update, task: "t", round: 1, device: "d", dimension: 8), indices: [0, 2, 5, 7],
            quantized: out.wire, valueEncoding: .int8)
        var decoder = try UpdateDecoder()
        let decoded = try message.withUnsafeBytes { try decoder.decode($0) }
        #expect(decoded.values == out.decoded)
    }

    /// A stand-in signer for the trailer's framing: the "signature" is the CRC of the message, 16 times.
    struct ChecksumSigner: MessageSigner {
        var algorithm: SignatureAlgorithm { .ed25519 }
        func signature(of message: UnsafeRawBufferPointer) -> [UInt8] {
            let crc = CRC32C.checksum(message)
            let four = withUnsafeBytes(of: crc.littleEndian) { Array($0) }
            return (0..<16).flatMap { _ in four }
        }
    }

    /// Checks the stand-in signature.
    struct ChecksumVerifier: MessageVerifier {
        func isValid(signature: UnsafeRawBufferPointer, of message: UnsafeRawBufferPointer) -> Bool {
            Array(signature) == ChecksumSigner().signature(of: message)
        }
    }

    @Test("sign: no signer leaves the message alone; a signer's trailer covers the header with the flag set")
    func sign() throws {
        var encoder = try UpdateEncoder()
        let message = try encoder.encode(
            UpdateHeader(type: .update, task: "t", round: 3, device: "d", dimension: 10), indices: [1, 4],
            values: [0.5, -0.5], valueEncoding: .float32)
        #expect(SignStage().apply(message) == message)
        let signed = SignStage(signer: ChecksumSigner()).apply(message)
        #expect(signed.count == message.count + 3 + 64)
        var decoder = try UpdateDecoder()
        let decoded = try signed.withUnsafeBytes { try decoder.decode($0) }
        var covered = Array(message.dropLast(4))
        covered[UpdateFormat.flagsOffset] |= 2
        #expect(decoded.header.signature == [1] + covered.withUnsafeBytes { ChecksumSigner().signature(of: $0) })
        #expect(decoded.values == [0.5, -0.5] && decoded.header.round == 3)
        let parts = try signed.withUnsafeBytes { try SignedMessage.verify($0, key: ChecksumVerifier()).get() }
        #expect(parts.signedCount == covered.count && parts.algorithm == .ed25519)
    }

    @Test("verify: unsigned, a flipped byte, a cut trailer and a wrong checksum are told apart")
    func verifyFailures() throws {
        var encoder = try UpdateEncoder()
        let message = try encoder.encode(
            UpdateHeader(type: .update, task: "t", round: 3, device: "d", dimension: 10), indices: [1, 4],
            values: [0.5, -0.5], valueEncoding: .float32)
        func verdict(_ bytes: [UInt8]) -> SignedMessage.Failure? {
            bytes.withUnsafeBytes {
                if case .failure(let f) = SignedMessage.verify($0, key: ChecksumVerifier()) { f } else { nil }
            }
        }
        #expect(verdict(message) == .unsigned)
        let signed = SignStage(signer: ChecksumSigner()).apply(message)
        #expect(verdict(signed) == nil)
        // A changed round, with the checksum fixed up: only the signature notices.
        var forged = Array(signed.dropLast(4))
        forged[10] ^= 1
        var w = ByteWriter()
        w.write(bytes: forged)
        w.appendChecksum()
        #expect(verdict(w.bytes) == .badSignature)
        var corrupt = signed
        corrupt[corrupt.count - 5] ^= 1
        #expect(verdict(corrupt) == .malformed)
        var cut = Array(signed.dropLast(4 + 10))
        var w2 = ByteWriter()
        w2.write(bytes: cut)
        w2.appendChecksum()
        cut = w2.bytes
        #expect(verdict(cut) == .malformed)
        #expect(verdict(Array(signed.prefix(6))) == .unsigned)
    }

    @Test("the whole row: the message decodes to the values the pipeline reports, clipped, within k")
    func pipeline() throws {
        var pipeline = try UpdatePipeline(dimension: 6, clip: ClipStage(maxNorm: 1))
        let global: [Float] = [0, 0, 0, 0, 0, 0]
        let local: [Float] = [3, 0, -4, 0, 0.1, 0]  // delta norm ≈ 5: clipped by 0.2
        let output = try local.withUnsafeBufferPointer { l in
            try global.withUnsafeBufferPointer { g in
                try pipeline.run(
                    local: l, global: g,
                    header: UpdateHeader(type: .update, task: "t", round: 2, device: "d", dimension: 6), k: 2,
                    encoding: .float32)
            }
        }
        #expect(abs(output.norm - (25.01 as Double).squareRoot()) < 1e-6 && output.clipFactor < 0.2)
        #expect(output.indices == [0, 2])
        #expect(abs(output.values[0] - 3 * output.clipFactor) < 1e-6)
        var decoder = try UpdateDecoder()
        let decoded = try output.message.withUnsafeBytes { try decoder.decode($0) }
        #expect(decoded.indices == output.indices && decoded.values == output.values && decoded.header.k == 2)
        // The clipped 0.1 at index 4 waits in the residual.
        #expect(abs(pipeline.feedback.residual[4] - 0.1 * output.clipFactor) < 1e-7)
    }
}
