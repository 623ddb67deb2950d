import Federation
import OnlineLearning
import Recording
import SensorFrames
import StreamCore

/// Central evaluation (Flower's server-side evaluate): the task's labelled windows of a recording, made once with
/// the agents' own pipeline (windows, features, the task's channels, the last frame's label), and each new global
/// model scored on them.
///
/// Agents standardise inputs with their own running statistics, which never leave the device; the evaluation
/// standardises with the statistics of the recording's windows, as a fresh device streaming it would.
struct CentralEvaluation {
    /// Labelled windows: `inputs` features each.
    let features: [Float]
    let labels: [Int]
    let inputs: Int
    let standardizer: Standardizer?

    /// A recording this cannot use (missing, damaged, no stream with the task's channels and labels).
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// Reads every stream of `path` with enough channels for the task, in order, as one stream.
    init(recording path: String, spec: TaskSpec) throws(Failure) {
        let reader: RecordingReader
        do { reader = try RecordingReader(path: path) } catch { throw Failure(description: "\(path): \(error)") }
        let needed = (spec.data.channels + [spec.data.labelChannel ?? 0]).max()! + 1
        guard spec.data.labelChannel != nil else {
            throw Failure(description: "the task has no label channel: nothing to evaluate against")
        }
        guard let stream = reader.streams.first(where: { $0.channels >= needed }) else {
            throw Failure(description: "\(path) has no stream with \(needed) channels")
        }
        let channels = stream.channels
        let window: WindowSpec
        do { window = try .sliding(frames: spec.data.windowFrames, hop: spec.data.hopFrames) } catch {
            throw Failure(description: "\(error)")
        }
        let classes = spec.model.head == .softmax ? spec.model.outputs : 2
        let ring = FrameRing(
            capacity: max(4_096, 2 * spec.data.windowFrames), channels: channels, policy: .rejectNewest)
        var ingest = SensorIngest(ring: ring)
        var consumer = ring.makeConsumer()
        var windower = Windower(spec: window)
        var extractor = FeatureExtractor(channels: channels, features: spec.data.features.compactMap(Feature.init))
        var extracted = [Float](repeating: 0, count: extractor.dimension)
        var input = [Float](repeating: 0, count: spec.data.inputCount)
        var features: [Float] = []
        var labels: [Int] = []
        func drain() {
            windower.drain(&consumer, ring: ring) { window in
                guard let label = spec.data.label(of: window, channels: channels, classes: classes) else { return }
                extracted.withUnsafeMutableBufferPointer { extractor.extract(window.segments, into: $0) }
                extracted.withUnsafeBufferPointer { x in
                    input.withUnsafeMutableBufferPointer { spec.data.select(x, channels: channels, into: $0) }
                }
                features += input
                labels.append(label)
            }
        }
        for chunk in reader.frameChunks(stream: stream.id) {
            let timestamps: [Int64]
            let values: [Float]
            do { (timestamps, values) = try reader.frames(chunk) } catch {
                throw Failure(description: "\(path): \(error)")
            }
            timestamps.withUnsafeBufferPointer { t in
                values.withUnsafeBufferPointer { v in
                    _ = ingest.ingest(timestamps: t, values: v) {
                        drain()
                        return true
                    }
                }
            }
        }
        drain()
        guard !labels.isEmpty else { throw Failure(description: "\(path) gives no labelled window for the task") }
        self.features = features
        self.labels = labels
        let inputs = spec.data.inputCount
        self.inputs = inputs
        standardizer = spec.training.standardize ? Self.fit(features, count: labels.count, inputs: inputs) : nil
    }

    /// Standardisation statistics of the windows.
    static func fit(_ features: [Float], count: Int, inputs: Int) -> Standardizer {
        var standardizer = Standardizer(dimension: inputs)
        features.withUnsafeBufferPointer { all in
            for w in 0..<count { standardizer.update(all.baseAddress! + w * inputs) }
        }
        standardizer.fold()
        return standardizer
    }

    /// Windows evaluated.
    var count: Int { labels.count }

    /// Accuracy and mean log-loss of `parameters` on the windows (a linear head: no accuracy, the mean squared
    /// error against the label's value).
    func evaluate(_ parameters: [Float], spec: TaskSpec) -> RoundMetrics.Evaluation {
        var learner = OnlineLearner(
            network: spec.model.network, configuration: TrainingConfiguration(), seed: spec.model.initSeed,
            standardize: standardizer != nil)
        learner.standardizer = standardizer
        learner.parameters = parameters
        let classes = spec.model.head == .softmax ? spec.model.outputs : 2
        var metrics = ClassificationMetrics(classes: classes)
        var regression = RegressionMetrics()
        var output = [Float](repeating: 0, count: spec.model.outputs)
        features.withUnsafeBufferPointer { all in
            for (w, label) in labels.enumerated() {
                let x = UnsafeBufferPointer(rebasing: all[(w * inputs)..<((w + 1) * inputs)])
                output.withUnsafeMutableBufferPointer { learner.predict(x, into: $0) }
                if spec.model.head == .linear {
                    regression.add(prediction: output[0], target: Float(label))
                } else {
                    output.withUnsafeBufferPointer { metrics.add(actual: label, probabilities: $0) }
                }
            }
        }
        if spec.model.head == .linear {
            return RoundMetrics.Evaluation(samples: labels.count, accuracy: nil, loss: regression.mse)
        }
        return RoundMetrics.Evaluation(samples: labels.count, accuracy: metrics.accuracy, loss: metrics.logLoss)
    }
}
