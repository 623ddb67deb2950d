import StreamCore
import Testing
import TributaryMath

@Suite struct SummaryTests {
    /// Exact statistics by two passes in Double.
    static func reference(_ values: [Float]) -> (mean: Double, variance: Double, min: Float, max: Float, rms: Double) {
        let n = Double(values.count)
        let mean = values.reduce(0.0) { $0 + Double($1) } / n
        let variance = values.reduce(0.0) { $0 + (Double($1) - mean) * (Double($1) - mean) } / n
        let rms = (values.reduce(0.0) { $0 + Double($1) * Double($1) } / n).squareRoot()
        return (mean, variance, values.min()!, values.max()!, rms)
    }

    static func close(_ a: Double, _ b: Double, relative: Double = 1e-6, absolute: Double = 1e-9) -> Bool {
        abs(a - b) <= max(absolute, relative * max(abs(a), abs(b)))
    }

    @Test("Welford matches two-pass statistics, even far from zero where naive sums lose everything")
    func welfordStable() {
        var rng = SeededRandom(seed: 1)
        let values = (0..<100_000).map { _ in Float(1_000_000 + rng.normal() * 0.01) }
        var stats = ChannelStats()
        for v in values { stats.add(v) }
        let exact = Self.reference(values)
        #expect(stats.count == values.count)
        #expect(Self.close(stats.mean, exact.mean, relative: 1e-12))
        #expect(Self.close(stats.variance, exact.variance, relative: 1e-6))
        #expect(stats.min == exact.min && stats.max == exact.max)
        #expect(Self.close(stats.rms, exact.rms, relative: 1e-12))
    }

    @Test("merging summaries of two halves gives the summary of the whole")
    func mergeExact() {
        var rng = SeededRandom(seed: 2)
        let values = (0..<10_001).map { _ in Float(rng.normal() * 3 + 7) }
        var whole = ChannelStats()
        var left = ChannelStats()
        var right = ChannelStats()
        for (i, v) in values.enumerated() {
            whole.add(v)
            if i < 3_333 { left.add(v) } else { right.add(v) }
        }
        let merged = ChannelStats.merged(left, right)
        #expect(merged.count == whole.count)
        #expect(Self.close(merged.mean, whole.mean, relative: 1e-12))
        #expect(Self.close(merged.m2, whole.m2, relative: 1e-9))
        #expect(merged.min == whole.min && merged.max == whole.max)
        #expect(Self.close(merged.sumOfSquares, whole.sumOfSquares, relative: 1e-12))
        #expect(ChannelStats.merged(ChannelStats(), whole) == whole)
    }

    @Test(
        "the SIMD block path agrees with per-sample Welford for every channel count and ragged lengths",
        arguments: Array(1...13) + [16, 24, 33])
    func blockPathMatchesScalar(channels: Int) {
        var rng = SeededRandom(seed: UInt64(channels))
        for frames in [0, 1, 7, 63, 64, 65, 511, 4_099, 20_000] {
            let values = (0..<(frames * channels)).map { i in
                Float(rng.normal() * Double(1 + i % channels) + Double(100 * (i % channels)))
            }
            var summary = StreamSummary(channels: channels)
            var whole = StreamSummary(channels: channels)
            values.withUnsafeBufferPointer { whole.add($0, frames: frames) }
            // Feed in uneven chunks to cross block boundaries.
            var offset = 0
            var chunk = 1
            while offset < frames {
                let take = min(chunk, frames - offset)
                values.withUnsafeBufferPointer { all in
                    summary.add(
                        UnsafeBufferPointer(rebasing: all[(offset * channels)..<((offset + take) * channels)]),
                        frames: take)
                }
                offset += take
                chunk = chunk * 3 + 1
            }
            for c in 0..<channels {
                var scalar = ChannelStats()
                var i = c
                while i < values.count {
                    scalar.add(values[i])
                    i += channels
                }
                for fast in [summary.stats[c], whole.stats[c]] {
                    #expect(fast.count == scalar.count)
                    #expect(fast.min == scalar.min && fast.max == scalar.max)
                    #expect(
                        Self.close(fast.mean, scalar.mean, relative: 1e-6, absolute: 1e-6), "c=\(c) frames=\(frames)")
                    #expect(
                        Self.close(fast.variance, scalar.variance, relative: 1e-4, absolute: 1e-6),
                        "c=\(c) frames=\(frames)")
                    #expect(Self.close(fast.rms, scalar.rms, relative: 1e-6, absolute: 1e-6))
                }
            }
        }
    }

    @Test("the EWMA follows its recurrence and summaries merge channel by channel")
    func ewmaAndMerge() {
        let values: [Float] = (0..<600).map { Float($0 % 6) + Float($0 / 6) * 0.5 }
        var summary = StreamSummary(channels: 3, ewmaAlpha: 0.1)
        values.withUnsafeBufferPointer { summary.add($0, frames: 200) }
        for c in 0..<3 {
            var e = Double(values[c])
            var i = c
            while i < values.count {
                e += 0.1 * (Double(values[i]) - e)
                i += 3
            }
            #expect(Self.close(summary.ewma[c], e, relative: 1e-12))
        }
        var first = StreamSummary(channels: 3)
        var second = StreamSummary(channels: 3)
        values.withUnsafeBufferPointer { all in
            first.add(UnsafeBufferPointer(rebasing: all[0..<300]), frames: 100)
            second.add(UnsafeBufferPointer(rebasing: all[300...]), frames: 100)
        }
        first.merge(second)
        for c in 0..<3 {
            #expect(first.stats[c].count == summary.stats[c].count)
            #expect(Self.close(first.stats[c].mean, summary.stats[c].mean, relative: 1e-9))
            #expect(Self.close(first.stats[c].variance, summary.stats[c].variance, relative: 1e-6))
        }
    }
}
