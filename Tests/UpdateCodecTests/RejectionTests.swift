import Testing
import TributaryWire
import UpdateCodec

@Suite struct RejectionTests {
    /// Re-seals a damaged message with a correct CRC, so the field checks behind it are what rejects it.
    static func resealed(_ bytes: [UInt8]) -> [UInt8] {
        var body = Array(bytes.dropLast(4))
        let crc = CRC32C.checksum(body)
        withUnsafeBytes(of: crc.littleEndian) { body += $0 }
        return body
    }

    static func reason(_ bytes: [UInt8], task: String? = nil, dimension: Int? = nil) -> WireError.Code? {
        var decoder = try! UpdateDecoder(maxDimension: 1 << 20)
        do {
            _ = try bytes.withUnsafeBytes { try decoder.decode($0, expectedTask: task, expectedDimension: dimension) }
            return nil
        } catch let error as WireError {
            return error.code
        } catch {
            return nil
        }
    }

    static func message(
        indices: [UInt32] = [1, 5, 9], values: [Float] = [1, -2, 3], n: Int = 10,
        compress: Bool = false
    ) -> [UInt8] {
        var encoder = try! UpdateEncoder(compress: compress)
        let header = UpdateHeader(type: .update, task: "t", round: 1, device: "d", sampleWeight: 1, dimension: n)
        return try! encoder.encode(header, indices: indices, values: values, valueEncoding: .float32)
    }

    /// Byte offset of the body in an uncompressed message with task "t" and device "d".
    static let bodyOffset = 4 + 1 + 1 + 1 + 1 + 1 + 2 + 4 + 2 + 4 + 4 + 4 + 8 + 4 + 4

    @Test("every invalid field is a typed rejection with its reason")
    func reasons() {
        let good = Self.message()
        #expect(Self.reason(good) == nil)
        var bad = good
        bad[0] = 0
        #expect(Self.reason(bad) == .badMagic)
        bad = good
        bad[4] = 9
        #expect(Self.reason(bad) == .unsupportedVersion)
        bad = good
        bad[Self.bodyOffset] ^= 1
        #expect(Self.reason(bad) == .badChecksum)
        bad = good
        bad[5] = 0x77
        #expect(Self.reason(Self.resealed(bad)) == .wrongMessageType)
        bad = good
        bad[6] = 0x80
        #expect(Self.reason(Self.resealed(bad)) == .malformed)
        #expect(Self.reason(Self.message(indices: [1, 5, 10])) == .indexOutOfRange)
        #expect(Self.reason(Self.message(values: [1, .nan, 3])) == .nonFinite)
        #expect(Self.reason(Self.message(values: [1, .infinity, 3])) == .nonFinite)
        #expect(Self.reason(good, dimension: 11) == .mismatch)
        #expect(Self.reason(good, task: "other") == .mismatch)
        #expect(Self.reason(Array(good.prefix(30))) == .truncated)
        #expect(Self.reason(Self.resealed(good.dropLast(4) + [0, 0, 0, 0, 0])) != nil)
        // k > n: patch k (after n) to 11.
        bad = good
        let kOffset = 4 + 1 + 1 + 1 + 1 + 1 + 2 + 4 + 2 + 4 + 4
        bad[kOffset] = 11
        #expect(Self.reason(Self.resealed(bad)) == .countOutOfRange)
        // Duplicate and unsorted indices in the raw index encoding.
        #expect(Self.reason(Self.raw32Message([3, 3])) == .duplicate)
        #expect(Self.reason(Self.raw32Message([5, 2])) == .unsorted)
    }

    @Test("a metrics trailer round-trips before the signature; a bad count, order or value is refused by reason")
    func metricsTrailer() throws {
        var encoder = try UpdateEncoder(compress: false)
        var header = UpdateHeader(type: .update, task: "t", round: 1, device: "d", sampleWeight: 1, dimension: 10)
        header.metrics = [7: -1.5, UpdateFormat.Metric.holdoutAccuracy: 0.75]
        let plain = try encoder.encode(header, indices: [2], values: [1], valueEncoding: .float32)
        let withMetrics = SignStage(signer: PipelineTests.ChecksumSigner()).apply(plain)
        var decoder = try UpdateDecoder()
        let decoded = try withMetrics.withUnsafeBytes { try decoder.decode($0) }
        #expect(decoded.header.metrics == header.metrics)
        #expect(decoded.header.signature != nil && decoded.values == [1])
        // The trailer: flag bit 2, then count 2, ids increasing, after the body.
        #expect(plain[UpdateFormat.flagsOffset] & 4 == 4)
        let trailer = Array(plain.dropLast(4).suffix(11))
        #expect(trailer[0] == 2 && trailer[1] == 1 && trailer[6] == 7)
        header.metrics = [:]
        let bare = try encoder.encode(header, indices: [2], values: [1], valueEncoding: .float32)
        #expect(bare.count == plain.count - 11 && bare[UpdateFormat.flagsOffset] & 4 == 0)
        // Damaged trailers, resealed so the trailer's own checks are what refuses them.
        let start = plain.count - 4 - 11
        var bad = plain
        bad[start] = 0
        #expect(Self.reason(Self.resealed(bad)) == .countOutOfRange)
        bad = plain
        bad[start] = 17
        #expect(Self.reason(Self.resealed(bad)) == .countOutOfRange)
        bad = plain
        bad[start + 6] = 1
        #expect(Self.reason(Self.resealed(bad)) == .unsorted)
        bad = plain
        withUnsafeBytes(of: Float.nan.bitPattern.littleEndian) { bad.replaceSubrange(start + 2..<start + 6, with: $0) }
        #expect(Self.reason(Self.resealed(bad)) == .nonFinite)
        bad = plain
        bad[UpdateFormat.flagsOffset] &= ~4
        #expect(Self.reason(Self.resealed(bad)) != nil, "a trailer without its flag is trailing garbage")
    }

    /// A message using raw u32 indices, built by hand (the encoder never picks them).
    static func raw32Message(_ indices: [UInt32]) -> [UInt8] {
        var w = ByteWriter()
        w.write(UpdateFormat.magic)
        w.write(UpdateFormat.version)
        w.write(UpdateFormat.MessageType.update.rawValue)
        w.write(UInt8(0))
        w.write(ValueEncoding.float32.rawValue)
        w.write(IndexEncoding.raw32.rawValue)
        w.write(UInt8(1))
        w.write(bytes: Array("t".utf8))
        w.write(UInt32(1))
        w.write(UInt8(0))
        w.write(UInt32(1))
        w.write(UInt32(10))
        w.write(UInt32(indices.count))
        w.write(UInt64(0))
        let body = 8 * indices.count
        w.write(UInt32(body))
        w.write(UInt32(body))
        for i in indices { w.write(i) }
        for _ in indices { w.write(Float(1)) }
        w.appendChecksum()
        return w.bytes
    }

    @Test("a compressed body that claims more than k values can need is refused before decompressing")
    func bomb() {
        var bytes = Self.message(compress: true)
        // The uncompressed-length field sits right before the body: claim 1 GiB.
        let plainOffset = Self.bodyOffset - 4
        bytes.replaceSubrange(plainOffset..<(plainOffset + 4), with: [0, 0, 0, 0x40])
        #expect(Self.reason(Self.resealed(bytes)) == .lengthMismatch)
    }

    @Test("random and mutated bytes never crash the decoder, and a rejected update leaves the accumulator untouched")
    func fuzz() throws {
        var random = Random(seed: 12)
        let template = Self.message(indices: [0, 3, 7, 8], values: [1, 2, 3, 4], compress: true)
        var decoder = try UpdateDecoder(maxDimension: 1 << 20)
        var accumulator = [Float](repeating: 0, count: 10)
        var accepted = 0
        for round in 0..<30_000 {
            var bytes: [UInt8]
            if round % 3 == 0 {
                bytes = (0..<Int(random.next() % 80)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
            } else {
                bytes = template
                for _ in 0..<(1 + random.next() % 3) {
                    bytes[Int(random.next() % UInt64(bytes.count - 4))] = UInt8(truncatingIfNeeded: random.next())
                }
                bytes = Self.resealed(bytes)
            }
            let before = accumulator
            do {
                try bytes.withUnsafeBytes { b in
                    try accumulator.withUnsafeMutableBufferPointer {
                        _ = try decoder.accumulate(b, into: $0, weight: 1)
                    }
                }
                accepted += 1
            } catch {
                #expect(accumulator == before)
            }
        }
        #expect(accepted < 30_000)
    }
}
