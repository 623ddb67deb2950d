import UpdateCodec

/// `tributary-bench codec`: sparse update encode and decode rates across dimensions, densities and value
/// encodings; bytes per update against dense float32 (how Flower ships parameters); and the aggregator's
/// decode-and-scatter-add rate for k = 1000.
enum CodecBenchmark {
    static func run(runs: Int, quick: Bool, only filter: String?, report: BenchReport) throws {
        let dimensions = quick ? [10_000, 100_000, 1_000_000] : [10_000, 100_000, 1_000_000, 10_000_000]
        let fractions = [0.001, 0.01, 0.1]
        for n in dimensions {
            var random = BenchRandom(seed: UInt64(n))
            // A gradient-like delta: mostly small, with a heavy tail.
            let delta: [Float] = (0..<n).map { _ in
                let g = Float(random.normal())
                return random.unit() < 0.05 ? 10 * g : 0.1 * g
            }
            for fraction in fractions {
                let k = max(1, Int(Double(n) * fraction))
                for encoding in ValueEncoding.allCases {
                    let label = "n=\(short(n)) k=\(fraction * 100)% \(encoding)"
                    if let filter, !label.contains(filter) { continue }
                    var encodeTimes: [Double] = []
                    var decodeTimes: [Double] = []
                    var size = 0
                    var encoder = try UpdateEncoder()
                    var decoder = try UpdateDecoder()
                    let header = UpdateHeader(
                        type: .update, task: "bench", round: 1, device: "d", sampleWeight: 1,
                        dimension: n)
                    let repeats = n >= 10_000_000 ? 1 : max(1, 1_000_000 / n)
                    for _ in 0..<max(3, runs) {
                        var feedback = ErrorFeedback(dimension: n)
                        var bytes: [UInt8] = []
                        let encodeTime = try measure {
                            for _ in 0..<repeats {
                                let c = delta.withUnsafeBufferPointer {
                                    feedback.compress($0, k: k, encoding: encoding)
                                }
                                bytes = try encoder.encode(header, c)
                            }
                        }
                        encodeTimes.append(encodeTime / Double(repeats))
                        size = bytes.count
                        let decodeTime = try measure {
                            for _ in 0..<repeats {
                                _ = try bytes.withUnsafeBytes { try decoder.decode($0) }
                            }
                        }
                        decodeTimes.append(decodeTime / Double(repeats))
                    }
                    report.add(
                        BenchRow(
                            case: "codec", name: "encode \(label) ms/update", impl: "tributary",
                            samples: encodeTimes.map { $0 * 1e3 }, unit: "ms", higherIsBetter: false))
                    report.add(
                        BenchRow(
                            case: "codec", name: "decode \(label) ms/update", impl: "tributary",
                            samples: decodeTimes.map { $0 * 1e3 }, unit: "ms", higherIsBetter: false))
                    report.add(
                        BenchRow(
                            case: "codec", name: "bytes \(label)", impl: "tributary",
                            samples: [Double(size)], unit: "bytes", higherIsBetter: false))
                    report.add(
                        BenchRow(
                            case: "codec", name: "bytes \(label)", impl: "dense-f32",
                            samples: [Double(4 * n)], unit: "bytes", higherIsBetter: false))
                }
            }
            progress("codec n=\(n) done")
        }
        if filter == nil || filter!.contains("accumulate") { try accumulate(runs: runs, report: report) }
    }

    /// The aggregator's side: updates of k = 1000 out of 10^5 parameters decoded and added into one accumulator.
    static func accumulate(runs: Int, report: BenchReport) throws {
        let n = 100_000
        let k = 1_000
        var random = BenchRandom(seed: 77)
        var encoder = try UpdateEncoder()
        var messages: [[UInt8]] = []
        for device in 0..<1_000 {
            var feedback = ErrorFeedback(dimension: n)
            let delta = (0..<n).map { _ in Float(random.normal()) }
            let c = delta.withUnsafeBufferPointer { feedback.compress($0, k: k, encoding: .int8) }
            messages.append(
                try encoder.encode(
                    UpdateHeader(
                        type: .update, task: "bench", round: 1, device: "d\(device)",
                        sampleWeight: 10, dimension: n), c))
        }
        var decoder = try UpdateDecoder()
        var accumulator = [Float](repeating: 0, count: n)
        var rates: [Double] = []
        for _ in 0..<max(3, runs) {
            let t = try measure {
                for _ in 0..<10 {
                    for message in messages {
                        try message.withUnsafeBytes { bytes in
                            try accumulator.withUnsafeMutableBufferPointer {
                                _ = try decoder.accumulate(bytes, into: $0, weight: 10, expectedTask: "bench")
                            }
                        }
                    }
                }
            }
            rates.append(Double(10 * messages.count) / t)
        }
        report.add(
            BenchRow(
                case: "codec", name: "aggregate decode+scatter-add k=1000 n=100k int8 updates/s",
                impl: "tributary", samples: rates, unit: "updates/s", higherIsBetter: true))
    }

    static func short(_ n: Int) -> String {
        switch n {
        case 10_000_000: "1e7"
        case 1_000_000: "1e6"
        case 100_000: "1e5"
        case 10_000: "1e4"
        default: "\(n)"
        }
    }
}
