import Foundation
import StreamCore
import Testing
import TributaryMath
import TributaryWire

@Suite struct SummaryEncodingTests {
    static func sample(sketches: Bool) -> StreamSummary {
        var summary = StreamSummary(channels: 3, ewmaAlpha: 0.05, sketchK: sketches ? 64 : nil)
        var rng = SeededRandom(seed: 4)
        let values = (0..<3_000).map { i in Float(rng.normal() + Double(i % 3) * 10) }
        values.withUnsafeBufferPointer { summary.add($0, frames: 1_000) }
        return summary
    }

    @Test("the JSON summary is valid JSON with the documented fields")
    func json() throws {
        let summary = Self.sample(sketches: true)
        let text = summary.json(
            SummaryContext(
                device: "dev-\"7\"", stream: "imu", start: 10, end: 20,
                channelNames: ["ax", "ay"]))
        let object = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        #expect(object["device"] as? String == "dev-\"7\"")
        #expect(object["start"] as? Int == 10)
        let channels = try #require(object["channels"] as? [[String: Any]])
        #expect(channels.count == 3)
        #expect(channels.map { $0["name"] as? String } == ["ax", "ay", "c2"])
        #expect(channels[1]["count"] as? Int == 1_000)
        let mean = try #require(channels[1]["mean"] as? Double)
        #expect(abs(mean - summary.stats[1].mean) < 1e-12)
        let quantiles = try #require(channels[2]["q"] as? [String: Double])
        #expect(Set(quantiles.keys) == ["p5", "p25", "p50", "p75", "p95"])
        #expect(channels[0]["ewma"] is Double)
        let empty = StreamSummary(channels: 1).json(SummaryContext(device: "d", stream: "s", start: 0, end: 0))
        let emptyObject = try JSONSerialization.jsonObject(with: Data(empty.utf8)) as? [String: Any]
        #expect((emptyObject?["channels"] as? [[String: Any]])?.first?["min"] is NSNull)
    }

    @Test("the binary summary round trips exactly, sketches included", arguments: [false, true])
    func binaryRoundTrip(sketches: Bool) throws {
        let summary = Self.sample(sketches: sketches)
        let bytes = summary.binary(start: -5, end: 99)
        let decoded = try bytes.withUnsafeBytes { try StreamSummary.decode(binary: $0) }
        #expect(decoded.start == -5 && decoded.end == 99)
        #expect(decoded.summary.stats == summary.stats)
        #expect(decoded.summary.ewma == summary.ewma)
        #expect(decoded.summary.ewmaAlpha == summary.ewmaAlpha)
        #expect(decoded.summary.sketches == summary.sketches)
    }

    @Test("any damaged byte is rejected with a typed error, and random bytes never crash the decoder")
    func rejections() {
        let bytes = Self.sample(sketches: true).binary(start: 0, end: 1)
        for i in stride(from: 0, to: bytes.count, by: 7) {
            var damaged = bytes
            damaged[i] ^= 0x40
            #expect(throws: WireError.self) { try damaged.withUnsafeBytes { try StreamSummary.decode(binary: $0) } }
        }
        #expect(throws: WireError.self) {
            try bytes.dropLast(9).withUnsafeBytes { try StreamSummary.decode(binary: $0) }
        }
        var rng = SeededRandom(seed: 8)
        for _ in 0..<5_000 {
            var random = (0..<Int(rng.next() % 300)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            if random.count > 8 {
                // A correct checksum, so the field checks behind it are exercised too.
                random.removeLast(4)
                let crc = CRC32C.checksum(random)
                withUnsafeBytes(of: crc.littleEndian) { random += $0 }
            }
            _ = try? random.withUnsafeBytes { try StreamSummary.decode(binary: $0) }
        }
    }

    @Test("a serialized KLL sketch is checked: weights, order and capacity")
    func sketchValidation() throws {
        var sketch = KLLSketch(k: 16)
        for i in 0..<1_000 { sketch.update(Float(i % 97)) }
        let good = sketch.serialized()
        let decoded = try good.withUnsafeBytes { bytes -> KLLSketch in
            var r = ByteReader(bytes)
            return try KLLSketch(from: &r)
        }
        #expect(decoded.quantiles([0.1, 0.5, 0.9]) == sketch.quantiles([0.1, 0.5, 0.9]))
        var wrongCount = good
        wrongCount[4] ^= 1  // the count no longer matches the level weights
        let error = #expect(throws: WireError.self) {
            try wrongCount.withUnsafeBytes { bytes in
                var r = ByteReader(bytes)
                _ = try KLLSketch(from: &r)
            }
        }
        #expect(error?.code == .mismatch)
    }
}

/// Inputs the fuzzers (tools/fuzz) found, kept as regression tests (also in tools/fuzz/crashes/).
@Suite struct SummaryFuzzRegressionTests {
    @Test("a summary claiming more than 2^53 samples is refused, so merging accepted summaries cannot overflow")
    func hugeCount() {
        let hex =
            "5453554d01010100000000000000971700000020fe9c9717320000000047e17a7c26c22340c782402afb9b96d2f69640ae"
            + "47e13dec519e416ff91b59a0e6b340cffb2fbfad6b214032000000000000005a9459c4"
        var bytes: [UInt8] = []
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 2)
            bytes.append(UInt8(hex[index..<next], radix: 16)!)
            index = next
        }
        #expect(throws: WireError.self) { try bytes.withUnsafeBytes { try StreamSummary.decode(binary: $0) } }
        do {
            _ = try bytes.withUnsafeBytes { try StreamSummary.decode(binary: $0) }
        } catch let error as WireError {
            #expect(error.code == .valueOutOfRange)
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test("merging statistics with enormous counts saturates instead of trapping")
    func saturatingMerge() {
        var a = ChannelStats(count: Int.max - 5, mean: 1, m2: 0, min: 1, max: 1, sumOfSquares: 1)
        a.merge(ChannelStats(count: 100, mean: 3, m2: 0, min: 3, max: 3, sumOfSquares: 9))
        #expect(a.count == Int.max)
        #expect(a.mean.isFinite && a.max == 3)
    }
}
