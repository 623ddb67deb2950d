import Foundation
import LocalBroker
import OnlineLearning
import StreamCore

/// Leave-one-subject-out on the seglearn smartwatch data (10 subjects, 7 exercises, 6 IMU channels at 50 Hz):
/// recordings go through the streaming core (frame ring, 2 s sliding windows with a 1 s hop, mean/std/min/max/
/// RMS/zero-crossing features: 36 per window); our online softmax and MLP learn the other subjects' windows in one
/// shuffled pass and are scored on the held-out subject; scikit-learn's batch logistic regression gets the same
/// features (written to a CSV) and the same folds.
enum SeglearnEvaluation {
    struct Window {
        var subject: Int
        var label: Int
        var features: [Float]
    }

    static let featureList: [Feature] = [.mean, .std, .min, .max, .rms, .zeroCrossingRate]

    static func run(runs: Int, quick: Bool, only: String?, report: BenchReport) throws {
        let windows = try loadWindows()
        progress("seglearn: \(windows.count) windows of \(windows.first?.features.count ?? 0) features")
        let subjects = Array(Set(windows.map(\.subject))).sorted()
        var rows: [String: [Double]] = [:]
        for run in 1...max(1, runs) {
            for (model, network) in [
                ("softmax", Network.softmax(inputs: 36, classes: 7)),
                ("mlp", Network.mlp(inputs: 36, hidden: [64], classes: 7)),
            ] where only == nil || only == "tributary" {
                var accuracies: [Double] = []
                for subject in subjects {
                    accuracies.append(foldAccuracy(windows, heldOut: subject, network: network, seed: UInt64(run)))
                }
                rows[model, default: []].append(accuracies.reduce(0, +) / Double(accuracies.count))
            }
        }
        if only == nil || only == "sklearn" {
            let csv = FileManager.default.temporaryDirectory.appendingPathComponent(
                "tributary-seglearn-\(getpid()).csv")
            defer { try? FileManager.default.removeItem(at: csv) }
            try writeCSV(windows, to: csv)
            let script = Repository.root.appendingPathComponent("tools/learning/sklearn_reference.py").path
            let result = try PeerPrograms.run(try PeerPrograms.python(), [script, csv.path])
            let f = PeerPrograms.fields(result.output)
            guard result.status == 0, let accuracy = f["mean_accuracy"] else {
                throw PeerPrograms.Failure(description: "sklearn_reference.py failed: \(result.output)")
            }
            rows["sklearn"] = [accuracy]
        }
        for (model, label) in [("softmax", "softmax"), ("mlp", "MLP")] {
            let name = "seglearn LOSO accuracy: online \(label) vs batch logreg"
            if let ours = rows[model] {
                report.add(
                    BenchRow(
                        case: "learn", name: name, impl: "tributary", samples: ours, unit: "fraction",
                        higherIsBetter: true))
            }
            if let reference = rows["sklearn"] {
                report.add(
                    BenchRow(
                        case: "learn", name: name, impl: "sklearn", samples: reference, unit: "fraction",
                        higherIsBetter: true))
            }
        }
    }

    /// Trains on every subject but `heldOut` in one shuffled pass and returns the accuracy on `heldOut`.
    static func foldAccuracy(_ windows: [Window], heldOut: Int, network: Network, seed: UInt64) -> Double {
        var training = windows.filter { $0.subject != heldOut }
        var random = BenchRandom(seed: seed &+ UInt64(heldOut))
        training.shuffle(using: &random)
        // Adam with Polyak–Ruppert averaging from step 500 (about a ninth of the pass): the online learner's
        // configuration for short streams.
        var learner = OnlineLearner(
            network: network,
            configuration: TrainingConfiguration(optimizer: .adam, schedule: .constant(0.005), averageFrom: 500),
            seed: seed)
        for window in training {
            window.features.withUnsafeBufferPointer { _ = learner.train($0, target: .label(window.label)) }
        }
        var metrics = ClassificationMetrics(classes: 7)
        for window in windows where window.subject == heldOut {
            let predicted = window.features.withUnsafeBufferPointer { learner.predictClass($0) }
            metrics.add(actual: window.label, predicted: predicted)
        }
        return metrics.accuracy
    }

    /// Windows and features of every recording, through the streaming core.
    static func loadWindows() throws -> [Window] {
        let directory = try ensureData()
        let index = directory.appendingPathComponent("index.csv")
        var windows: [Window] = []
        let lines = try String(contentsOf: index, encoding: .utf8).split(separator: "\n").dropFirst()
        for line in lines {
            let fields = line.split(separator: ",")
            guard fields.count >= 4, let subject = Int(fields[1]), let label = Int(fields[3]) else { continue }
            let recording = try loadRecording(directory.appendingPathComponent(String(fields[0])))
            for features in windowFeatures(recording) {
                windows.append(Window(subject: subject, label: label, features: features))
            }
        }
        return windows
    }

    /// The seglearn CSV directory, fetched (tools/datasets/fetch_seglearn.py) when missing.
    static func ensureData() throws -> URL {
        let directory = Repository.root.appendingPathComponent("tools/datasets/seglearn-watch")
        if !FileManager.default.fileExists(atPath: directory.appendingPathComponent("index.csv").path) {
            progress("fetching the seglearn data set (tools/datasets/fetch_seglearn.py)")
            let script = Repository.root.appendingPathComponent("tools/datasets/fetch_seglearn.py").path
            guard try PeerPrograms.run(try PeerPrograms.python(), [script]).status == 0 else {
                throw PeerPrograms.Failure(description: "tools/datasets/fetch_seglearn.py failed")
            }
        }
        return directory
    }

    /// Frames of one CSV recording: times (ns) and six channel values per frame.
    static func loadRecording(_ url: URL) throws -> (times: [Int64], values: [Float]) {
        var times: [Int64] = []
        var values: [Float] = []
        for line in try String(contentsOf: url, encoding: .utf8).split(separator: "\n").dropFirst() {
            let fields = line.split(separator: ",")
            guard fields.count == 7, let t = Double(fields[0]) else { continue }
            times.append(Int64((t * 1e9).rounded()))
            for field in fields.dropFirst() { values.append(Float(field) ?? 0) }
        }
        return (times, values)
    }

    /// Pushes a recording through a frame ring and cuts 2 s windows every 1 s.
    static func windowFeatures(_ recording: (times: [Int64], values: [Float])) -> [[Float]] {
        let ring = FrameRing(capacity: 256, channels: 6, policy: .rejectNewest)
        var producer = ring.makeProducer()
        var consumer = ring.makeConsumer()
        var windower = Windower(spec: try! WindowSpec.sliding(frames: 100, hop: 50))
        var extractor = FeatureExtractor(channels: 6, features: featureList)
        var result: [[Float]] = []
        recording.values.withUnsafeBufferPointer { values in
            for i in 0..<recording.times.count {
                _ = producer.push(
                    timestamp: recording.times[i],
                    values: UnsafeBufferPointer(rebasing: values[(i * 6)..<(i * 6 + 6)]))
                windower.drain(&consumer, ring: ring) { result.append(extractor.extract($0.segments)) }
            }
        }
        return result
    }

    static func writeCSV(_ windows: [Window], to url: URL) throws {
        var text = "subject,label," + (0..<36).map { "f\($0)" }.joined(separator: ",") + "\n"
        for w in windows {
            text += "\(w.subject),\(w.label)," + w.features.map { "\($0)" }.joined(separator: ",") + "\n"
        }
        try text.write(to: url, atomically: true, encoding: .utf8)
    }
}
