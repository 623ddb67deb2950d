/// How parameters move after each gradient.
public enum Optimizer: Sendable, Hashable {
    /// Stochastic gradient descent with (heavy-ball) momentum; momentum 0 is plain SGD.
    case sgd(momentum: Float)
    /// Adam (Kingma & Ba) with bias correction.
    case adam(beta1: Float, beta2: Float, epsilon: Float)

    /// Adam with its usual constants.
    public static let adam = Optimizer.adam(beta1: 0.9, beta2: 0.999, epsilon: 1e-8)
}

/// The learning rate as a function of the step count.
public enum LearningRateSchedule: Sendable, Hashable {
    /// Always `rate`.
    case constant(Float)
    /// `rate / (1 + decay·t)`.
    case inverseTime(Float, decay: Float)
    /// `rate · factor^⌊t / every⌋`.
    case step(Float, every: Int, factor: Float)
    /// `rate / √(1 + t / warmup)`: a gentle decay suited to long streams.
    case inverseSquareRoot(Float, warmup: Int)

    /// The rate at step `t` (0-based).
    @inlinable
    public func rate(at t: Int) -> Float {
        switch self {
        case .constant(let r): return r
        case .inverseTime(let r, let decay): return r / (1 + decay * Float(t))
        case .step(let r, let every, let factor):
            var rate = r
            for _ in 0..<(t / Swift.max(1, every)) { rate *= factor }
            return rate
        case .inverseSquareRoot(let r, let warmup):
            return r / (1 + Float(t) / Float(Swift.max(1, warmup))).squareRoot()
        }
    }
}

/// Everything about how a learner trains, as a round configuration may set it.
public struct TrainingConfiguration: Sendable, Hashable {
    /// The optimizer.
    public var optimizer: Optimizer
    /// The learning-rate schedule.
    public var schedule: LearningRateSchedule
    /// L2 regularisation strength λ (adds λ·w to the gradient of weights; biases are not decayed).
    public var l2: Float
    /// FedProx proximal strength μ (adds μ·(w − w_global) to the gradient while an anchor is set).
    public var proximalMu: Float
    /// Polyak–Ruppert averaging: from this step on, keep the running mean of the parameters and predict with it
    /// (nil: off). One noisy pass over a stream then ends much closer to what batch training reaches.
    public var averageFrom: Int?

    /// Creates a configuration.
    public init(
        optimizer: Optimizer = .sgd(momentum: 0), schedule: LearningRateSchedule = .constant(0.05), l2: Float = 0,
        proximalMu: Float = 0, averageFrom: Int? = nil
    ) {
        self.optimizer = optimizer
        self.schedule = schedule
        self.l2 = l2
        self.proximalMu = proximalMu
        self.averageFrom = averageFrom
    }
}
