public import TributaryMath

/// Trains a ``Network`` one sample (or one mini-batch) at a time, allocation-free after creation.
///
/// Holds the flat parameter vector, the optimizer's state, an optional input ``Standardizer`` and, during a
/// FedProx round, the global parameters to stay near. Given the same seed and the same inputs, training is
/// bit-for-bit reproducible.
public struct OnlineLearner: Sendable {
    /// The model.
    public let network: Network
    /// The parameters (layout: ``Network/layout``).
    public var parameters: [Float]
    /// Training settings; may change between rounds.
    public var configuration: TrainingConfiguration {
        didSet {
            usesDirectUpdate = Self.directUpdateApplies(network, configuration, anchor)
            cachedRateStep = -1
        }
    }
    /// Whether training updates the standardizer's statistics.
    public var updatesStandardizer = true
    /// FedProx anchor: the global parameters of the current round (nil outside FedProx rounds).
    public var anchor: [Float]? {
        didSet { usesDirectUpdate = Self.directUpdateApplies(network, configuration, anchor) }
    }
    /// Optimizer steps taken.
    public internal(set) var steps = 0
    /// The running mean of the parameters since ``TrainingConfiguration/averageFrom`` (empty until then).
    public internal(set) var averagedParameters: [Float] = []
    /// Steps averaged into ``averagedParameters``.
    public internal(set) var averagedSteps = 0

    /// The parameters to predict with and to share: the averaged ones when averaging has begun, else the
    /// current ones.
    public var effectiveParameters: [Float] { averagedSteps > 0 ? averagedParameters : parameters }
    /// Whether ``train(_:target:)`` computes the loss it returns (off by default: it costs a logarithm).
    public var tracksLoss = false

    /// The input standardisation in use (stored unconditionally so the hot path borrows it, never copies it).
    var inputStandardizer: Standardizer
    var standardizes: Bool
    var firstMoment: [Float]
    var secondMoment: [Float]
    var beta1Power: Float = 1
    var beta2Power: Float = 1
    var workspace: Workspace
    /// Which parameters are weights (decayed by L2); biases are not.
    let isWeight: [Bool]
    var cachedRate: Float = 0
    var cachedRateStep = -16
    /// Whether ``directUpdate(_:target:_:)`` applies (kept up to date when configuration or anchor change).
    var usesDirectUpdate: Bool

    /// Creates a learner with freshly initialised parameters.
    public init(
        network: Network, configuration: TrainingConfiguration = TrainingConfiguration(), seed: UInt64 = 1,
        standardize: Bool = true
    ) {
        self.network = network
        self.configuration = configuration
        parameters = network.initialParameters(seed: seed)
        inputStandardizer = Standardizer(dimension: network.inputs)
        standardizes = standardize
        firstMoment = Array(repeating: 0, count: network.parameterCount)
        secondMoment = Array(repeating: 0, count: network.parameterCount)
        workspace = Workspace(network: network)
        var weightMask = Array(repeating: false, count: network.parameterCount)
        for group in network.layout.groups where group.name.hasSuffix(".weight") {
            for i in group.range { weightMask[i] = true }
        }
        isWeight = weightMask
        usesDirectUpdate = Self.directUpdateApplies(network, configuration, nil)
    }

    /// Input standardisation, if enabled.
    public var standardizer: Standardizer? {
        get { standardizes ? inputStandardizer : nil }
        set {
            standardizes = newValue != nil
            inputStandardizer = newValue ?? Standardizer(dimension: network.inputs)
        }
    }

    /// This learner's own workspace (a copy of the learner gets a fresh one before writing).
    @inline(__always)
    mutating func ownWorkspace() -> Workspace {
        if !isKnownUniquelyReferenced(&workspace) { workspace = Workspace(network: network) }
        return workspace
    }

    /// The model's input for `x`: `x` itself, or its standardised copy in the workspace.
    @inline(__always)
    func modelInput(_ x: UnsafePointer<Float>, _ ws: Workspace) -> UnsafePointer<Float> {
        guard standardizes else { return x }
        inputStandardizer.transform(x, into: ws.standardized)
        return UnsafePointer(ws.standardized)
    }

    /// Trains on one sample (one optimizer step). Returns its loss if ``tracksLoss`` is on, else NaN.
    @discardableResult
    public mutating func train(_ x: UnsafeBufferPointer<Float>, target: Target) -> Float {
        precondition(x.count == network.inputs, "\(x.count) features, the model takes \(network.inputs)")
        let row = x.baseAddress!
        let ws = ownWorkspace()
        let loss: Float
        if usesDirectUpdate {
            if standardizes && updatesStandardizer {
                // One pass: standardise with the current statistics, then count the sample in them.
                inputStandardizer.transformAndUpdate(row, into: ws.standardized)
                loss = directUpdate(UnsafePointer(ws.standardized), target: target, ws, standardized: true)
            } else {
                loss = directUpdate(row, target: target, ws, standardized: false)
            }
        } else {
            if standardizes && updatesStandardizer { inputStandardizer.update(row) }
            Vector.zero(ws.gradient, count: parameters.count)
            loss = accumulate(row, target: target, ws)
            step(scale: 1, ws)
        }
        if let start = configuration.averageFrom, steps > start { updateAverage() }
        return loss
    }

    /// Folds the current parameters into their running mean.
    mutating func updateAverage() {
        if averagedParameters.count != parameters.count {
            averagedParameters = parameters
            averagedSteps = 1
            return
        }
        averagedSteps += 1
        let weight = 1 / Float(averagedSteps)
        parameters.withUnsafeBufferPointer { w in
            averagedParameters.withUnsafeMutableBufferPointer { a in
                for i in 0..<w.count { a[i] += (w[i] - a[i]) * weight }
            }
        }
    }

    /// Trains on a mini-batch of `targets.count` samples (rows of `xs`), one optimizer step on the mean
    /// gradient; returns the mean loss (NaN unless ``tracksLoss``).
    @discardableResult
    public mutating func train(batch xs: UnsafeBufferPointer<Float>, targets: [Target]) -> Float {
        let d = network.inputs
        precondition(xs.count == targets.count * d, "batch is not targets × inputs")
        guard !targets.isEmpty else { return 0 }
        let ws = ownWorkspace()
        Vector.zero(ws.gradient, count: parameters.count)
        var total: Float = 0
        for (i, target) in targets.enumerated() {
            let row = xs.baseAddress! + i * d
            if standardizes && updatesStandardizer { inputStandardizer.update(row) }
            total += accumulate(row, target: target, ws)
        }
        step(scale: 1 / Float(targets.count), ws)
        if let start = configuration.averageFrom, steps > start { updateAverage() }
        return total / Float(targets.count)
    }

    /// Adds one sample's gradient to the workspace's gradient.
    mutating func accumulate(_ x: UnsafePointer<Float>, target: Target, _ ws: Workspace) -> Float {
        let input = modelInput(x, ws)
        return parameters.withUnsafeBufferPointer { p in
            network.backward(
                input, target: target, parameters: p.baseAddress!, gradient: ws.gradient,
                output: ws.output, scratch: ws.scratch, computeLoss: tracksLoss)
        }
    }

    /// Plain SGD on a network without hidden layers, no L2, no proximal term: the update w −= η·δ·x goes
    /// straight into each output's weight row, with no gradient buffer. (Chosen by configuration alone, so it is
    /// as reproducible as the general path.)
    static func directUpdateApplies(_ network: Network, _ configuration: TrainingConfiguration, _ anchor: [Float]?)
        -> Bool
    {
        guard network.hidden.isEmpty, configuration.l2 == 0, anchor == nil || configuration.proximalMu == 0 else {
            return false
        }
        if case .sgd(let momentum) = configuration.optimizer { return momentum == 0 }
        return false
    }

    mutating func directUpdate(_ x: UnsafePointer<Float>, target: Target, _ ws: Workspace, standardized: Bool)
        -> Float
    {
        let rate = currentRate()
        steps += 1
        let d = network.inputs
        let k = network.outputs
        let head = network.head
        let computeLoss = tracksLoss
        let input = standardized ? x : modelInput(x, ws)
        let o = ws.output
        return parameters.withUnsafeMutableBufferPointer { w in
            let weights = w.baseAddress!
            let biases = weights + k * d
            for i in 0..<k { o[i] = Vector.dot(weights + i * d, input, count: d) + biases[i] }
            var loss: Float = .nan
            switch head {
            case .linear:
                let error = o[0] - target.value
                o[0] = error
                if computeLoss { loss = 0.5 * error * error }
            case .sigmoid:
                let p = FastMath.sigmoid(o[0])
                let y: Float = target.label == 1 ? 1 : 0
                o[0] = p - y
                if computeLoss { loss = Float(-FastMath.log(Swift.max(Double(y == 1 ? p : 1 - p), 1e-15))) }
            case .softmax:
                precondition((0..<k).contains(target.label), "label \(target.label) outside 0..<\(k)")
                var largest = o[0]
                for i in 1..<k { largest = Swift.max(largest, o[i]) }
                var sum = 0.0
                for i in 0..<k {
                    let e = FastMath.exp(Double(o[i] - largest))
                    o[i] = Float(e)
                    sum += e
                }
                let pLabel = Double(o[target.label]) / sum
                for i in 0..<k { o[i] = Float(Double(o[i]) / sum) - (i == target.label ? 1 : 0) }
                if computeLoss { loss = Float(-FastMath.log(Swift.max(pLabel, 1e-15))) }
            }
            for i in 0..<k {
                Vector.axpy(-rate * o[i], input, weights + i * d, count: d)
                biases[i] -= rate * o[i]
            }
            return loss
        }
    }

    /// The learning rate for this step: the schedule evaluated at the start of each run of 16 steps (a square
    /// root and a division per sample would cost more than the rest of a linear model's update). A function of
    /// the step count alone, so a restored learner continues identically.
    @inline(__always)
    mutating func currentRate() -> Float {
        let blockStart = steps & ~15
        if blockStart != cachedRateStep {
            cachedRate = configuration.schedule.rate(at: blockStart)
            cachedRateStep = blockStart
        }
        return cachedRate
    }

    /// Applies regularisation and one optimizer step to the accumulated gradient (times `scale`).
    mutating func step(scale: Float, _ ws: Workspace) {
        let rate = currentRate()
        let l2 = configuration.l2
        let mu = anchor == nil ? 0 : configuration.proximalMu
        steps += 1
        if case .adam(let beta1, let beta2, _) = configuration.optimizer {
            beta1Power *= beta1
            beta2Power *= beta2
        }
        let optimizer = configuration.optimizer
        let b1Power = beta1Power
        let b2Power = beta2Power
        let anchorCopy = anchor
        let g = ws.gradient
        parameters.withUnsafeMutableBufferPointer { w in
            firstMoment.withUnsafeMutableBufferPointer { m in
                secondMoment.withUnsafeMutableBufferPointer { v in
                    isWeight.withUnsafeBufferPointer { weight in
                        anchorCopy.withUnsafeOptionalBuffer { anchorBuffer in
                            let n = w.count
                            // The effective gradient of parameter i, with regularisation.
                            @inline(__always) func effective(_ i: Int) -> Float {
                                var grad = g[i] * scale
                                if l2 != 0 && weight[i] { grad += l2 * w[i] }
                                if mu != 0, let anchorBuffer { grad += mu * (w[i] - anchorBuffer[i]) }
                                return grad
                            }
                            switch optimizer {
                            case .sgd(let momentum) where momentum == 0:
                                for i in 0..<n { w[i] -= rate * effective(i) }
                            case .sgd(let momentum):
                                for i in 0..<n {
                                    m[i] = momentum * m[i] + effective(i)
                                    w[i] -= rate * m[i]
                                }
                            case .adam(let beta1, let beta2, let epsilon):
                                let c1 = 1 / (1 - b1Power)
                                let c2 = 1 / (1 - b2Power)
                                for i in 0..<n {
                                    let grad = effective(i)
                                    m[i] = beta1 * m[i] + (1 - beta1) * grad
                                    v[i] = beta2 * v[i] + (1 - beta2) * grad * grad
                                    w[i] -= rate * (m[i] * c1) / ((v[i] * c2).squareRoot() + epsilon)
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// Predictions for `x` (value, P(class 1), or class probabilities) into `out` (``Network/outputs`` floats).
    public mutating func predict(_ x: UnsafeBufferPointer<Float>, into out: UnsafeMutableBufferPointer<Float>) {
        precondition(x.count == network.inputs && out.count >= network.outputs, "wrong buffer sizes")
        let ws = ownWorkspace()
        let input = modelInput(x.baseAddress!, ws)
        (averagedSteps > 0 ? averagedParameters : parameters).withUnsafeBufferPointer { p in
            network.forward(input, parameters: p.baseAddress!, output: out.baseAddress!, scratch: ws.scratch)
        }
    }

    /// Predictions for `x` as a new array.
    public mutating func predict(_ x: [Float]) -> [Float] {
        var out = [Float](repeating: 0, count: network.outputs)
        x.withUnsafeBufferPointer { input in out.withUnsafeMutableBufferPointer { predict(input, into: $0) } }
        return out
    }

    /// The most likely class (sigmoid: 1 when P ≥ 0.5).
    public mutating func predictClass(_ x: UnsafeBufferPointer<Float>) -> Int {
        let ws = ownWorkspace()
        predict(x, into: UnsafeMutableBufferPointer(start: ws.output, count: network.outputs))
        let p = ws.output
        if network.head == .sigmoid { return p[0] >= 0.5 ? 1 : 0 }
        var best = 0
        for i in 1..<network.outputs where p[i] > p[best] { best = i }
        return best
    }

    /// Starts a round from `global` (the round's global parameters); with `proximal`, also anchors FedProx
    /// to it.
    public mutating func adoptGlobal(_ global: [Float], proximal: Bool) {
        precondition(
            global.count == parameters.count, "global model has \(global.count) parameters, not \(parameters.count)")
        parameters = global
        anchor = proximal ? global : nil
        averagedParameters = []
        averagedSteps = 0
    }
}

extension Optional where Wrapped == [Float] {
    /// Calls `body` with the array's buffer, or nil.
    @inline(__always)
    func withUnsafeOptionalBuffer<R>(_ body: (UnsafeBufferPointer<Float>?) -> R) -> R {
        switch self {
        case .some(let array): return array.withUnsafeBufferPointer { body($0) }
        case .none: return body(nil)
        }
    }
}
