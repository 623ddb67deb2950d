import StreamCore

/// `tributary-bench summaries`: samples per second per core for the per-channel statistics (Welford mean and
/// variance, min, max, RMS) over interleaved frames, for several channel counts; and the same statistics by
/// per-sample Welford, for scale.
enum SummariesBenchmark {
    static func run(runs: Int, quick: Bool, report: BenchReport) {
        let frames = 1 << 16
        let passes = quick ? 20 : 200
        for channels in [1, 3, 6, 8] {
            var rng = BenchRandom(seed: UInt64(channels))
            let values = (0..<(frames * channels)).map { _ in Float(9.81 + rng.normal()) }
            var fast: [Double] = []
            var scalar: [Double] = []
            var sink = 0.0
            for _ in 0..<runs {
                var summary = StreamSummary(channels: channels)
                let t = measure {
                    values.withUnsafeBufferPointer { buffer in
                        for _ in 0..<passes { summary.add(buffer, frames: frames) }
                    }
                }
                sink += summary.stats[0].mean
                fast.append(Double(frames * channels * passes) / t)
                var stats = [ChannelStats](repeating: ChannelStats(), count: channels)
                let scalarPasses = max(1, passes / 20)
                let u = measure {
                    for _ in 0..<scalarPasses {
                        for (i, v) in values.enumerated() { stats[i % channels].add(v) }
                    }
                }
                sink += stats[0].mean
                scalar.append(Double(frames * channels * scalarPasses) / u)
            }
            if sink.isNaN { progress("(impossible) \(sink)") }
            report.add(
                BenchRow(
                    case: "summaries", name: "welford+minmax+rms \(channels)ch samples/s",
                    impl: "tributary", samples: fast, unit: "samples/s", higherIsBetter: true))
            report.add(
                BenchRow(
                    case: "summaries", name: "per-sample welford \(channels)ch samples/s",
                    impl: "tributary", samples: scalar, unit: "samples/s", higherIsBetter: true))
        }
    }
}
