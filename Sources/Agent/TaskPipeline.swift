import Federation
import OnlineLearning
import StreamCore
import TributaryWire
import UpdateCodec

/// Everything that exists once a task is known, and none of it optional: the windows, the features, the
/// online model and its evaluation, the windows kept for rounds, the global model held, and the update
/// pipeline. One per task; a new task makes a new one. A class, so it is mutated in place (no copy of a
/// parameter array per pass).
///
/// Not thread-safe: the agent's one loop drives it.
final class TaskPipeline {
    let spec: TaskSpec
    let channels: Int
    let classes: Int
    var windower: Windower
    var extractor: FeatureExtractor
    var learner: OnlineLearner
    var evaluator: StreamEvaluator
    /// The task's features of the current window (picked from `extracted`).
    var features: [Float]
    /// Every channel's features of the current window.
    var extracted: [Float]
    /// Windows kept for round training, and held-out ones.
    var buffer: WindowBuffer
    var holdout: WindowBuffer
    /// delta → clip → noise → error feedback → top-k → quantize → encode → sign.
    var updates: UpdatePipeline
    /// The global model held: parameters, hash, round.
    var global: [Float]
    var globalHash: UInt64
    var globalRound: UInt32 = 0
    /// The federation epoch of the model held (0: not given).
    var globalEpoch: UInt64 = 0
    /// The newest round an update was built for (in the epoch it was built in).
    var lastSentRound: UInt32 = 0
    /// The round machine's memory of each epoch, and the epoch it follows (kept with the saved state).
    var memory = RoundMemory()
    var epoch: UInt64 = 0
    /// Hold-out accuracy of the global model adopted last.
    var globalHoldoutAccuracy: Double?

    init(
        spec: TaskSpec, channels: Int, ringCapacity: Int, holdoutEvery: Int, bufferCapacity: Int,
        signer: (any MessageSigner)? = nil
    )
        throws(ProtocolError)
    {
        guard spec.data.channels.allSatisfy({ $0 < channels }), spec.data.labelChannel.map({ $0 < channels }) ?? true
        else {
            throw ProtocolError(.invalidField, "the task reads channels the \(channels)-channel stream does not have")
        }
        guard spec.data.windowFrames <= ringCapacity else {
            throw ProtocolError(.invalidField, "windows of \(spec.data.windowFrames) frames exceed the ring")
        }
        let window: WindowSpec
        do { window = try .sliding(frames: spec.data.windowFrames, hop: spec.data.hopFrames) } catch {
            throw ProtocolError(.invalidField, "\(error)")
        }
        self.spec = spec
        self.channels = channels
        let network = spec.model.network
        let optimizer: Optimizer = spec.training.optimizer == "sgd" ? .sgd(momentum: 0) : .adam
        var configuration = TrainingConfiguration(
            optimizer: optimizer, schedule: .constant(Float(spec.training.learningRate)), l2: Float(spec.training.l2))
        configuration.proximalMu = 0
        learner = OnlineLearner(
            network: network, configuration: configuration, seed: spec.model.initSeed,
            standardize: spec.training.standardize)
        classes = spec.model.head == .softmax ? spec.model.outputs : 2
        evaluator = StreamEvaluator(classes: classes, outputs: spec.model.outputs, holdoutEvery: holdoutEvery)
        windower = Windower(spec: window)
        extractor = FeatureExtractor(channels: channels, features: spec.data.features.compactMap(Feature.init))
        features = [Float](repeating: 0, count: spec.data.inputCount)
        extracted = [Float](repeating: 0, count: extractor.dimension)
        buffer = WindowBuffer(capacity: bufferCapacity, dimension: spec.data.inputCount)
        holdout = WindowBuffer(
            capacity: Swift.max(1, bufferCapacity / Swift.max(1, holdoutEvery)), dimension: spec.data.inputCount)
        do { updates = try UpdatePipeline(dimension: network.parameterCount, sign: SignStage(signer: signer)) } catch {
            throw ProtocolError(.invalidField, "the update encoder: \(error)")
        }
        global = learner.parameters
        globalHash = ModelHash.of(global)
    }

    /// Cuts windows from what the ring holds, learns from each (prequential: predicted, then learned; every
    /// Nth held out), and keeps the labelled ones for rounds. `fresh` gets each window's frames that no
    /// earlier window had (for the stream summary). Returns the windows made and the frames new to them.
    func process(
        _ consumer: inout FrameRing.Consumer, ring: FrameRing, counters: inout AgentCore.Counters,
        fresh: (Windower.Window, Int) -> Void
    ) {
        windower.drain(&consumer, ring: ring) { window in
            extracted.withUnsafeMutableBufferPointer { extractor.extract(window.segments, into: $0) }
            extracted.withUnsafeBufferPointer { x in
                features.withUnsafeMutableBufferPointer { spec.data.select(x, channels: channels, into: $0) }
            }
            counters.windows += 1
            // Frames new to this window: all of the first one's, then the hop's worth at its end.
            let new = window.index == 0 ? window.frames : Swift.min(window.frames, spec.data.hopFrames)
            counters.frames += new
            fresh(window, new)
            guard let label = spec.data.label(of: window, channels: channels, classes: classes) else {
                counters.unlabelled += 1
                return
            }
            features.withUnsafeBufferPointer { x in
                let heldOut = evaluator.process(x, target: .label(label), learner: &learner)
                if heldOut { holdout.append(x, label: label) } else { buffer.append(x, label: label) }
            }
        }
    }

    /// Adopts `parameters` (a decoded global model of `round` and `hash`) and scores it on the held-out
    /// windows.
    func adopt(_ parameters: [Float], round: UInt32, hash: UInt64, epoch: UInt64) {
        learner.adoptGlobal(parameters, proximal: false)
        global = parameters
        globalHash = hash
        globalRound = round
        globalEpoch = epoch
        globalHoldoutAccuracy = accuracy(on: holdout)
    }

    func accuracy(on windows: WindowBuffer) -> Double? {
        guard windows.count > 0 else { return nil }
        var correct = 0
        for i in 0..<windows.count {
            windows.window(i) { x, label in if learner.predictClass(x) == label { correct += 1 } }
        }
        return Double(correct) / Double(windows.count)
    }

    /// Local training for `round` from the global model on the buffered windows (FedProx μ from the round),
    /// then the update through the pipeline; the learner goes back to the global model afterwards (the local
    /// steps live on in the residual only). `device` is the sender's id.
    func update(for round: RoundAnnouncement, device: String) throws -> [UInt8] {
        let mu = Float(round.training.proxMu)
        var configuration = learner.configuration
        configuration.proximalMu = mu
        learner.configuration = configuration
        learner.adoptGlobal(global, proximal: mu > 0)
        let samples = Swift.min(round.training.samples, Swift.max(buffer.count, 1) * 4)
        // Windows spread over the whole buffer (not only the latest: a stream is rarely shuffled), starting at a
        // different place each round, cycling when the round asks for more than are held.
        let offset = Int(round.round &* 7_919) % buffer.count
        for step in 0..<samples {
            let i =
                (offset + step * buffer.count / Swift.max(1, Swift.min(samples, buffer.count)) + step / buffer.count)
                % buffer.count
            buffer.window(i) { x, label in _ = learner.train(x, target: .label(label)) }
        }
        let dimension = global.count
        let share = round.training.kFraction ?? spec.codec.kFraction
        let k = Swift.min(dimension, Swift.max(1, Int((Double(dimension) * share).rounded())))
        var header = UpdateHeader(
            type: .update, task: spec.task, round: round.round, device: device, sampleWeight: UInt32(samples),
            dimension: dimension, baseModelHash: globalHash)
        // How good the model it trained from is on this device's held-out windows: 5 bytes here instead of a
        // status message after every model.
        if let accuracy = globalHoldoutAccuracy {
            header.metrics[UpdateFormat.Metric.holdoutAccuracy] = Float(accuracy)
        }
        let local = learner.parameters
        let output = try local.withUnsafeBufferPointer { l in
            try global.withUnsafeBufferPointer { g in
                try updates.run(
                    local: l, global: g, header: header, k: k, encoding: spec.codec.valueEncoding ?? .int8)
            }
        }
        learner.adoptGlobal(global, proximal: false)
        configuration.proximalMu = 0
        learner.configuration = configuration
        lastSentRound = round.round
        return output.message
    }
}
