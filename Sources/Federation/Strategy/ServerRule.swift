/// The server optimizer step of a mean-family strategy, one coordinate at a time: in Double, stored as Float.
struct ServerRule {
    enum Kind { case average, momentum, adam, yogi, adagrad }

    let kind: Kind
    let eta: Double
    let beta1: Double
    let beta2: Double
    let tau: Double
    let momentum: Double

    init(_ config: StrategyConfig) {
        switch config.kind {
        case .fedAvg, .median, .trimmedMean: kind = .average
        case .fedAvgM: kind = .momentum
        case .fedAdam: kind = .adam
        case .fedYogi: kind = .yogi
        case .fedAdagrad: kind = .adagrad
        }
        eta = config.serverLearningRate
        beta1 = config.beta1
        beta2 = config.beta2
        tau = config.tau
        momentum = config.momentum
    }

    /// Keeps m (FedAvgM's momentum or the first moment).
    var usesFirstMoment: Bool { kind != .average }
    /// Keeps v (the second moment).
    var usesSecondMoment: Bool { kind == .adam || kind == .yogi || kind == .adagrad }

    /// The change of coordinate j for aggregate Δ = `delta`, updating its moments (`v` is empty unless
    /// ``usesSecondMoment``).
    @inline(__always)
    func step(delta: Double, m: inout Float, v: UnsafeMutableBufferPointer<Float>, at j: Int) -> Double {
        switch kind {
        case .average:
            return eta * delta
        case .momentum:
            let newM = momentum * Double(m) + delta
            m = Float(newM)
            return eta * newM
        case .adam, .yogi, .adagrad:
            let newM = beta1 * Double(m) + (1 - beta1) * delta
            let square = delta * delta
            let oldV = Double(v[j])
            let newV: Double
            switch kind {
            case .adam: newV = beta2 * oldV + (1 - beta2) * square
            case .yogi: newV = oldV - (1 - beta2) * square * Self.sign(oldV - square)
            default: newV = oldV + square
            }
            m = Float(newM)
            v[j] = Float(newV)
            return eta * newM / (newV.squareRoot() + tau)
        }
    }

    /// −1, 0 or 1.
    static func sign(_ x: Double) -> Double { x > 0 ? 1 : x < 0 ? -1 : 0 }
}
