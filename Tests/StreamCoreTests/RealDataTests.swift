import Foundation
import StreamCore
import Testing

/// Real wrist accelerometer data (seglearn smartwatch set, subject 1; see Fixtures/README.md).
@Suite struct RealDataTests {
    static let recordingLengths = [1489, 2455, 2416, 2618, 2462, 2256, 1933, 1398, 2242, 2542, 1853, 2034, 1597, 1804]

    static func magnitudes() throws -> [Float] {
        let url = try #require(
            Bundle.module.url(
                forResource: "watch-acc-magnitude", withExtension: "f32",
                subdirectory: "Fixtures"))
        let data = try Data(contentsOf: url)
        return data.withUnsafeBytes { raw in
            (0..<(data.count / 4)).map {
                Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self)))
            }
        }
    }

    @Test(
        "on real accelerometer data the sketch's rank error stays within its bound for every seed and k",
        arguments: [64, 200])
    func sketchOnRealData(k: Int) throws {
        let values = try Self.magnitudes()
        #expect(values.count == Self.recordingLengths.reduce(0, +))
        let sorted = values.sorted()
        for seed in UInt64(1)...10 {
            var sketch = KLLSketch(k: k, seed: seed)
            values.withUnsafeBufferPointer { sketch.update($0) }
            let error = KLLSketchTests.maxRankError(sketch, sorted: sorted)
            #expect(error <= KLLSketch.rankErrorBound(k: k), "k \(k) seed \(seed): \(error)")
        }
    }

    @Test("per-recording sketches merged answer for the whole subject within the bound")
    func mergedRecordings() throws {
        let values = try Self.magnitudes()
        var merged = KLLSketch(k: 200, seed: 1)
        var offset = 0
        for (i, length) in Self.recordingLengths.enumerated() {
            var part = KLLSketch(k: 200, seed: UInt64(100 + i))
            values.withUnsafeBufferPointer {
                part.update(UnsafeBufferPointer(rebasing: $0[offset..<(offset + length)]))
            }
            merged.merge(part)
            offset += length
        }
        #expect(merged.count == values.count)
        #expect(KLLSketchTests.maxRankError(merged, sorted: values.sorted()) <= KLLSketch.rankErrorBound(k: 200))
    }

    @Test("summaries of real data match two-pass statistics, and per-recording summaries merge exactly")
    func statsOnRealData() throws {
        let values = try Self.magnitudes()
        var whole = StreamSummary(channels: 1)
        values.withUnsafeBufferPointer { whole.add($0, frames: values.count) }
        let exact = SummaryTests.reference(values)
        #expect(SummaryTests.close(whole.stats[0].mean, exact.mean, relative: 1e-9))
        #expect(SummaryTests.close(whole.stats[0].variance, exact.variance, relative: 1e-6))
        #expect(whole.stats[0].min == exact.min && whole.stats[0].max == exact.max)
        var merged = StreamSummary(channels: 1)
        var offset = 0
        for length in Self.recordingLengths {
            var part = StreamSummary(channels: 1)
            values.withUnsafeBufferPointer {
                part.add(UnsafeBufferPointer(rebasing: $0[offset..<(offset + length)]), frames: length)
            }
            merged.merge(part)
            offset += length
        }
        #expect(SummaryTests.close(merged.stats[0].mean, exact.mean, relative: 1e-9))
        #expect(SummaryTests.close(merged.stats[0].variance, exact.variance, relative: 1e-6))
    }
}
