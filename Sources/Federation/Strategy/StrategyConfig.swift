/// The aggregation strategy of a task and its settings. Call ``validate()`` before using one from outside.
public struct StrategyConfig: Sendable, Hashable, Codable {
    /// The strategy.
    public var kind: StrategyKind = .fedAvg
    /// Server learning rate η: the aggregate (or optimizer step) is scaled by it.
    public var serverLearningRate: Double = 1
    /// First-moment decay β₁ of FedAdam, FedYogi and FedAdagrad.
    public var beta1: Double = 0.9
    /// Second-moment decay β₂ of FedAdam and FedYogi.
    public var beta2: Double = 0.99
    /// Adaptivity τ added to √v in the adaptive strategies.
    public var tau: Double = 1e-3
    /// Server momentum β of FedAvgM.
    public var momentum: Double = 0.9
    /// Trimmed mean: ⌊trimFraction·n⌋ values are dropped from each end of every coordinate, 0 ≤ trimFraction < 0.5.
    public var trimFraction: Double = 0.1
    /// If set, each update is scaled by min(1, clipNorm/‖u‖₂) before aggregation.
    public var clipNorm: Double? = nil
    /// FedBuff staleness exponent a: an update's weight is multiplied by 1/(1+staleness)^a.
    public var stalenessExponent: Double = 0.5

    /// Creates a configuration; every setting has a default.
    public init(
        kind: StrategyKind = .fedAvg, serverLearningRate: Double = 1, beta1: Double = 0.9, beta2: Double = 0.99,
        tau: Double = 1e-3, momentum: Double = 0.9, trimFraction: Double = 0.1, clipNorm: Double? = nil,
        stalenessExponent: Double = 0.5
    ) {
        self.kind = kind
        self.serverLearningRate = serverLearningRate
        self.beta1 = beta1
        self.beta2 = beta2
        self.tau = tau
        self.momentum = momentum
        self.trimFraction = trimFraction
        self.clipNorm = clipNorm
        self.stalenessExponent = stalenessExponent
    }

    /// Checks every setting (all of them, whatever the kind); throws the first problem.
    public func validate() throws(StrategyConfigError) {
        guard serverLearningRate.isFinite, serverLearningRate > 0 else {
            throw StrategyConfigError(
                field: "serverLearningRate", message: "must be finite and > 0, is \(serverLearningRate)")
        }
        for (field, value) in [("beta1", beta1), ("beta2", beta2), ("momentum", momentum)] {
            guard value >= 0, value < 1 else {
                throw StrategyConfigError(field: field, message: "must be in [0, 1), is \(value)")
            }
        }
        guard tau.isFinite, tau > 0 else {
            throw StrategyConfigError(field: "tau", message: "must be finite and > 0, is \(tau)")
        }
        guard trimFraction >= 0, trimFraction < 0.5 else {
            throw StrategyConfigError(field: "trimFraction", message: "must be in [0, 0.5), is \(trimFraction)")
        }
        if let clipNorm, !(clipNorm > 0) {
            throw StrategyConfigError(field: "clipNorm", message: "must be > 0 when set, is \(clipNorm)")
        }
        guard stalenessExponent.isFinite, stalenessExponent >= 0 else {
            throw StrategyConfigError(
                field: "stalenessExponent", message: "must be finite and ≥ 0, is \(stalenessExponent)")
        }
    }
}
