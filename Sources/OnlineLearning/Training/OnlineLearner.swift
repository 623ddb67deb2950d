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
    public var configuration: TrainingConfiguration
    /// Input standardisation, if enabled.
    public var standardizer: Standardizer?
    /// Whether training updates the standardizer's statistics.
    public var updatesStandardizer = true
    /// FedProx anchor: the global parameters of the current round (nil outside FedProx rounds).
    public var anchor: [Float]?
    /// Optimizer steps taken.
    public internal(set) var steps = 0

    @usableFromInline var firstMoment: [Float]
    @usableFromInline var secondMoment: [Float]
    @usableFromInline var beta1Power: Float = 1
    @usableFromInline var beta2Power: Float = 1
    @usableFromInline var gradient: [Float]
    @usableFromInline var scratch: [Float]
    @usableFromInline var output: [Float]
    @usableFromInline var standardized: [Float]
    /// Which parameters are weights (decayed by L2); biases are not.
    @usableFromInline let isWeight: [Bool]

    /// Creates a learner with freshly initialised parameters.
    public init(
        network: Network, configuration: TrainingConfiguration = TrainingConfiguration(), seed: UInt64 = 1,
        standardize: Bool = true
    ) {
        self.network = network
        self.configuration = configuration
        parameters = network.initialParameters(seed: seed)
        standardizer = standardize ? Standardizer(dimension: network.inputs) : nil
        firstMoment = Array(repeating: 0, count: network.parameterCount)
        secondMoment = Array(repeating: 0, count: network.parameterCount)
        gradient = Array(repeating: 0, count: network.parameterCount)
        scratch = Array(repeating: 0, count: network.scratchCount)
        output = Array(repeating: 0, count: network.outputs)
        standardized = Array(repeating: 0, count: network.inputs)
        var weightMask = Array(repeating: false, count: network.parameterCount)
        for group in network.layout.groups where group.name.hasSuffix(".weight") {
            for i in group.range { weightMask[i] = true }
        }
        isWeight = weightMask
    }

    /// Trains on one sample (one optimizer step) and returns its loss.
    @discardableResult
    public mutating func train(_ x: UnsafeBufferPointer<Float>, target: Target) -> Float {
        precondition(x.count == network.inputs, "\(x.count) features, the model takes \(network.inputs)")
        if updatesStandardizer { standardizer?.update(x.baseAddress!) }
        let loss = accumulate(x.baseAddress!, target: target, zeroFirst: true)
        step(scale: 1)
        return loss
    }

    /// Trains on a mini-batch of `targets.count` samples (rows of `xs`), one optimizer step on the mean
    /// gradient; returns the mean loss.
    @discardableResult
    public mutating func train(batch xs: UnsafeBufferPointer<Float>, targets: [Target]) -> Float {
        let d = network.inputs
        precondition(xs.count == targets.count * d, "batch is not targets × inputs")
        guard !targets.isEmpty else { return 0 }
        var total: Float = 0
        for (i, target) in targets.enumerated() {
            let row = xs.baseAddress! + i * d
            if updatesStandardizer { standardizer?.update(row) }
            total += accumulate(row, target: target, zeroFirst: i == 0)
        }
        step(scale: 1 / Float(targets.count))
        return total / Float(targets.count)
    }

    /// Adds one sample's gradient (of the standardised input) to the gradient buffer.
    @usableFromInline
    mutating func accumulate(_ x: UnsafePointer<Float>, target: Target, zeroFirst: Bool) -> Float {
        let count = parameters.count
        return parameters.withUnsafeBufferPointer { p in
            gradient.withUnsafeMutableBufferPointer { g in
                scratch.withUnsafeMutableBufferPointer { s in
                    output.withUnsafeMutableBufferPointer { o in
                        standardized.withUnsafeMutableBufferPointer { z in
                            if zeroFirst { Vector.zero(g.baseAddress!, count: count) }
                            var input = x
                            if let standardizer {
                                standardizer.transform(x, into: z.baseAddress!)
                                input = UnsafePointer(z.baseAddress!)
                            }
                            return network.backward(
                                input, target: target, parameters: p.baseAddress!,
                                gradient: g.baseAddress!, output: o.baseAddress!,
                                scratch: s.baseAddress!)
                        }
                    }
                }
            }
        }
    }

    /// Applies regularisation and one optimizer step to the accumulated gradient (times `scale`).
    @usableFromInline
    mutating func step(scale: Float) {
        let rate = configuration.schedule.rate(at: steps)
        let l2 = configuration.l2
        let mu = anchor == nil ? 0 : configuration.proximalMu
        steps += 1
        switch configuration.optimizer {
        case .adam(let beta1, let beta2, _):
            beta1Power *= beta1
            beta2Power *= beta2
        case .sgd: break
        }
        let optimizer = configuration.optimizer
        let b1Power = beta1Power
        let b2Power = beta2Power
        let anchorCopy = anchor
        parameters.withUnsafeMutableBufferPointer { w in
            gradient.withUnsafeBufferPointer { g in
                firstMoment.withUnsafeMutableBufferPointer { m in
                    secondMoment.withUnsafeMutableBufferPointer { v in
                        isWeight.withUnsafeBufferPointer { weight in
                            for i in 0..<w.count {
                                var grad = g[i] * scale
                                if l2 != 0 && weight[i] { grad += l2 * w[i] }
                                if mu != 0, let anchorCopy { grad += mu * (w[i] - anchorCopy[i]) }
                                switch optimizer {
                                case .sgd(let momentum):
                                    if momentum == 0 {
                                        w[i] -= rate * grad
                                    } else {
                                        m[i] = momentum * m[i] + grad
                                        w[i] -= rate * m[i]
                                    }
                                case .adam(let beta1, let beta2, let epsilon):
                                    m[i] = beta1 * m[i] + (1 - beta1) * grad
                                    v[i] = beta2 * v[i] + (1 - beta2) * grad * grad
                                    let mHat = m[i] / (1 - b1Power)
                                    let vHat = v[i] / (1 - b2Power)
                                    w[i] -= rate * mHat / (vHat.squareRoot() + epsilon)
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
        parameters.withUnsafeBufferPointer { p in
            scratch.withUnsafeMutableBufferPointer { s in
                standardized.withUnsafeMutableBufferPointer { z in
                    var input = x.baseAddress!
                    if let standardizer {
                        standardizer.transform(input, into: z.baseAddress!)
                        input = UnsafePointer(z.baseAddress!)
                    }
                    network.forward(
                        input, parameters: p.baseAddress!, output: out.baseAddress!, scratch: s.baseAddress!)
                }
            }
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
        // Take the buffer out while writing into it, so it is not copied.
        var probabilities = output
        output = []
        probabilities.withUnsafeMutableBufferPointer { predict(x, into: $0) }
        output = probabilities
        if network.head == .sigmoid { return probabilities[0] >= 0.5 ? 1 : 0 }
        var best = 0
        for i in 1..<probabilities.count where probabilities[i] > probabilities[best] { best = i }
        return best
    }

    /// Starts a FedProx round around `global` (the round's global parameters).
    public mutating func adoptGlobal(_ global: [Float], proximal: Bool) {
        precondition(
            global.count == parameters.count, "global model has \(global.count) parameters, not \(parameters.count)")
        parameters = global
        anchor = proximal ? global : nil
    }
}
