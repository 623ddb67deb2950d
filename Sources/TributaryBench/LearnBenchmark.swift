import Foundation
import OnlineLearning

/// `tributary-bench learn`: online logistic regression throughput against Vowpal Wabbit (its C++ driver, from
/// PyPI `vowpalwabbit`) and River on the same 32-feature stream, with hold-out accuracy; and leave-one-subject-out
/// accuracy on the seglearn smartwatch data of our online softmax and MLP against scikit-learn's batch
/// logistic regression on the same window features.
enum LearnBenchmark {
    static func run(runs: Int, quick: Bool, impl only: String?, only filter: String?, report: BenchReport) throws {
        if filter == nil || filter!.contains("throughput") {
            try throughput(runs: runs, quick: quick, only: only, report: report)
        }
        if filter == nil || filter!.contains("loso") {
            try SeglearnEvaluation.run(runs: runs, quick: quick, only: only, report: report)
        }
    }

    // MARK: Throughput

    static let features = 32
    /// Plain SGD with a 1/√t decay, the learner's simplest configuration (standardisation on, as by default).
    static let schedule = LearningRateSchedule.inverseSquareRoot(0.1, warmup: 1_000)

    static func throughput(runs: Int, quick: Bool, only: String?, report: BenchReport) throws {
        let trainCount = quick ? 100_000 : 1_000_000
        let testCount = 100_000
        var random = BenchRandom(seed: 2024)
        let weights = (0..<features).map { _ in Float(random.normal()) }
        func make(_ n: Int) -> (x: [Float], y: [Int]) {
            var x = [Float](repeating: 0, count: n * features)
            var y = [Int](repeating: 0, count: n)
            for i in 0..<n {
                var dot: Float = 0
                for j in 0..<features {
                    let v = Float(random.normal())
                    x[i * features + j] = v
                    dot += v * weights[j]
                }
                y[i] = dot + 0.5 * Float(random.normal()) > 0 ? 1 : 0
            }
            return (x, y)
        }
        let train = make(trainCount)
        let test = make(testCount)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tributary-learn-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let trainFile = directory.appendingPathComponent("train.tlrn")
        let testFile = directory.appendingPathComponent("test.tlrn")
        try writeTLRN(train, to: trainFile)
        try writeTLRN(test, to: testFile)
        let python = only == "tributary" ? nil : try PeerPrograms.python()

        var rows: [String: [Double]] = [:]
        for run in 1...runs {
            if only == nil || only == "tributary" {
                var learner = OnlineLearner(
                    network: .logisticRegression(inputs: features),
                    configuration: TrainingConfiguration(schedule: Self.schedule), seed: UInt64(run))
                let seconds = train.x.withUnsafeBufferPointer { x in
                    measure {
                        for i in 0..<trainCount {
                            learner.train(
                                UnsafeBufferPointer(rebasing: x[(i * features)..<((i + 1) * features)]),
                                target: .label(train.y[i]))
                        }
                    }
                }
                var correct = 0
                test.x.withUnsafeBufferPointer { x in
                    for i in 0..<testCount {
                        let row = UnsafeBufferPointer(rebasing: x[(i * features)..<((i + 1) * features)])
                        if learner.predictClass(row) == test.y[i] { correct += 1 }
                    }
                }
                rows["rate|tributary", default: []].append(Double(trainCount) / seconds)
                rows["accuracy|tributary", default: []].append(Double(correct) / Double(testCount))
            }
            if let python {
                for (peer, name) in [("vw", "vowpalwabbit"), ("river", "river")] where only == nil || only == name {
                    let result = try PeerPrograms.run(
                        python,
                        [
                            PeerPrograms.pythonScript("learn_peer.py"), peer, trainFile.path, testFile.path,
                        ])
                    let f = PeerPrograms.fields(result.output)
                    guard result.status == 0, let s = f["seconds"], let n = f["samples"], let a = f["accuracy"] else {
                        throw PeerPrograms.Failure(description: "learn_peer.py \(peer) failed: \(result.output)")
                    }
                    rows["rate|\(name)", default: []].append(n / s)
                    rows["accuracy|\(name)", default: []].append(a)
                }
            }
            progress("learn throughput run \(run)/\(runs) done")
        }
        for impl in ["tributary", "vowpalwabbit", "river"] {
            if let values = rows["rate|\(impl)"] {
                report.add(
                    BenchRow(
                        case: "learn", name: "logreg \(features)f online train samples/s", impl: impl,
                        samples: values, unit: "samples/s", higherIsBetter: true))
            }
        }
        for impl in ["tributary", "vowpalwabbit", "river"] {
            if let values = rows["accuracy|\(impl)"] {
                report.add(
                    BenchRow(
                        case: "learn", name: "logreg \(features)f hold-out accuracy", impl: impl,
                        samples: values, unit: "fraction", higherIsBetter: true))
            }
        }
    }

    /// Writes the benchmark's data exchange format (see tools/bench/python/make_learn_data.py).
    static func writeTLRN(_ data: (x: [Float], y: [Int]), to url: URL) throws {
        var bytes: [UInt8] = Array("TLRN".utf8)
        func u32(_ v: Int) { withUnsafeBytes(of: UInt32(v).littleEndian) { bytes += $0 } }
        u32(1)
        u32(data.y.count)
        u32(features)
        u32(2)
        bytes.reserveCapacity(bytes.count + data.y.count * (features + 1) * 4)
        for i in 0..<data.y.count {
            withUnsafeBytes(of: Float(data.y[i]).bitPattern.littleEndian) { bytes += $0 }
            data.x.withUnsafeBufferPointer { x in
                for j in 0..<features {
                    withUnsafeBytes(of: x[i * features + j].bitPattern.littleEndian) { bytes += $0 }
                }
            }
        }
        try Data(bytes).write(to: url)
    }
}
