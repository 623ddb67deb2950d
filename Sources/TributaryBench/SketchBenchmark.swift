import Foundation
import StreamCore

/// `tributary-bench sketch`: KLL quantile sketch, ours against Apache DataSketches' KLL (PyPI `datasketches`,
/// bulk numpy update) on the same 10^7 sensor-like values: updates per second, max rank error over 1000
/// quantiles (measured the same way for both), retained items and serialized bytes (memory).
enum SketchBenchmark {
    static func run(runs: Int, quick: Bool, impl only: String?, report: BenchReport) throws {
        let count = quick ? 1_000_000 : 10_000_000
        let k = 200
        var rng = BenchRandom(seed: 1)
        // Mostly gravity with noise, plus a uniform tail of motion: shaped like accelerometer magnitudes.
        let values: [Float] = (0..<count).map { _ in
            rng.unit() < 0.95 ? Float(9.81 + 0.5 * rng.normal()) : Float(rng.unit() * 39.24)
        }
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("tributary-kll-\(getpid()).f32")
        try values.withUnsafeBytes { try Data($0).write(to: file) }
        defer { try? FileManager.default.removeItem(at: file) }
        let sorted = values.sorted()
        let python = only == "tributary" ? nil : try PeerPrograms.python()

        // A sketch's rank error is a random variable (its compaction coin flips): each run builds `trials`
        // sketches per implementation and keeps the median, so the comparison is not a coin flip itself.
        let trials = quick ? 5 : 25
        var rows: [String: [Double]] = [:]
        for run in 1...runs {
            if only == nil || only == "tributary" {
                var times: [Double] = []
                var errors: [Double] = []
                var last = KLLSketch(k: k)
                for trial in 0..<trials {
                    var sketch = KLLSketch(k: k, seed: UInt64(run * 1_000 + trial))
                    times.append(measure { values.withUnsafeBufferPointer { sketch.update($0) } })
                    errors.append(maxRankError(sketch, sorted: sorted))
                    last = sketch
                }
                rows["rate|tributary", default: []].append(Double(count) / median(times))
                rows["error|tributary", default: []].append(median(errors))
                rows["retained|tributary", default: []].append(Double(last.retained))
                rows["bytes|tributary", default: []].append(Double(last.serialized().count))
            }
            if let python {
                let result = try PeerPrograms.run(
                    python,
                    [
                        PeerPrograms.pythonScript("kll_peer.py"), file.path, "\(k)", "\(trials)",
                    ])
                let f = PeerPrograms.fields(result.output)
                guard result.status == 0, let s = f["seconds"], let e = f["max_rank_error"], let r = f["retained"],
                    let b = f["bytes"]
                else { throw PeerPrograms.Failure(description: "kll_peer.py failed: \(result.output)") }
                rows["rate|datasketches", default: []].append(Double(count) / s)
                rows["error|datasketches", default: []].append(e)
                rows["retained|datasketches", default: []].append(r)
                rows["bytes|datasketches", default: []].append(b)
            }
            progress("sketch run \(run)/\(runs) done")
        }
        let names: [(String, String, String, Bool)] = [
            ("rate", "kll k=200 updates/s", "items/s", true),
            ("error", "kll k=200 max rank error (median of trials)", "fraction", false),
            ("retained", "kll k=200 retained items", "items", false),
            ("bytes", "kll k=200 serialized size", "bytes", false),
        ]
        for (key, name, unit, higher) in names {
            for impl in ["tributary", "datasketches"] {
                guard let samples = rows["\(key)|\(impl)"] else { continue }
                report.add(
                    BenchRow(
                        case: "sketch", name: name, impl: impl, samples: samples, unit: unit,
                        higherIsBetter: higher))
            }
        }
    }

    /// Max |rank(v) − q| over 1000 quantiles, where rank is the fraction of values ≤ v: the peer's definition.
    static func maxRankError(_ sketch: KLLSketch, sorted: [Float]) -> Double {
        let fractions = (0..<1000).map { (Double($0) + 0.5) / 1000 }
        var worst = 0.0
        for (q, answer) in zip(fractions, sketch.quantiles(fractions)) {
            guard let v = answer else { return 1 }
            var lo = 0
            var hi = sorted.count
            while lo < hi {
                let mid = (lo + hi) / 2
                if sorted[mid] <= v { lo = mid + 1 } else { hi = mid }
            }
            worst = max(worst, abs(Double(lo) / Double(sorted.count) - q))
        }
        return worst
    }
}

/// The median of `values` (mean of the middle two for an even count).
func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    let middle = sorted.count / 2
    return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
}
