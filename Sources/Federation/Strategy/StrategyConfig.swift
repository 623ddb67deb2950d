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
    /// Each update is scaled by min(1, clipNorm/‖u‖₂) before aggregation (nil: no clipping). On by default, so no
    /// update moves the model further than this, whatever its values and weight.
    public var clipNorm: Double? = StrategyConfig.defaultClipNorm
    /// After a round, the next round clips at most at this multiple of the median norm of the round's updates
    /// (nil: ``clipNorm`` alone). An honest round's updates have similar norms; one device sending the largest
    /// update the fixed bound allows would otherwise move the model far more than any of them.
    public var adaptiveClip: Double? = StrategyConfig.defaultAdaptiveClip
    /// The largest sample weight an update may claim; a heavier one is refused (`weight_too_large`), so no device
    /// outweighs the others by claiming more samples than a round can hold.
    public var maxWeight: Double = StrategyConfig.defaultMaxWeight
    /// The largest magnitude of any value of an update; an update with a larger one is refused
    /// (`value_out_of_range`).
    public var maxAbsValue: Double = StrategyConfig.defaultMaxAbsValue
    /// FedBuff staleness exponent a: an update's weight is multiplied by 1/(1+staleness)^a.
    public var stalenessExponent: Double = 0.5

    /// The default ``clipNorm``: far above what a round of local training moves a small model (the demo's
    /// seglearn softmax sends updates of norm 2.6–4.2), far below what overflows a Float.
    public static let defaultClipNorm = 100.0
    /// The default ``adaptiveClip``.
    public static let defaultAdaptiveClip = 3.0
    /// The default ``maxWeight``: a million samples behind one update.
    public static let defaultMaxWeight = 1_000_000.0
    /// The default ``maxAbsValue``.
    public static let defaultMaxAbsValue = 1_000.0

    /// Creates a configuration; every setting has a default.
    public init(
        kind: StrategyKind = .fedAvg, serverLearningRate: Double = 1, beta1: Double = 0.9, beta2: Double = 0.99,
        tau: Double = 1e-3, momentum: Double = 0.9, trimFraction: Double = 0.1,
        clipNorm: Double? = StrategyConfig.defaultClipNorm, stalenessExponent: Double = 0.5,
        maxWeight: Double = StrategyConfig.defaultMaxWeight, maxAbsValue: Double = StrategyConfig.defaultMaxAbsValue,
        adaptiveClip: Double? = StrategyConfig.defaultAdaptiveClip
    ) {
        self.adaptiveClip = adaptiveClip
        self.kind = kind
        self.serverLearningRate = serverLearningRate
        self.beta1 = beta1
        self.beta2 = beta2
        self.tau = tau
        self.momentum = momentum
        self.trimFraction = trimFraction
        self.clipNorm = clipNorm
        self.stalenessExponent = stalenessExponent
        self.maxWeight = maxWeight
        self.maxAbsValue = maxAbsValue
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
        if let adaptiveClip, !(adaptiveClip > 0 && adaptiveClip.isFinite) {
            throw StrategyConfigError(
                field: "adaptiveClip", message: "must be finite and > 0 when set, is \(adaptiveClip)")
        }
        if let clipNorm, !(clipNorm > 0 && clipNorm.isFinite) {
            throw StrategyConfigError(field: "clipNorm", message: "must be finite and > 0 when set, is \(clipNorm)")
        }
        guard maxWeight.isFinite, maxWeight >= 1 else {
            throw StrategyConfigError(field: "maxWeight", message: "must be finite and ≥ 1, is \(maxWeight)")
        }
        guard maxAbsValue.isFinite, maxAbsValue > 0 else {
            throw StrategyConfigError(field: "maxAbsValue", message: "must be finite and > 0, is \(maxAbsValue)")
        }
        guard stalenessExponent.isFinite, stalenessExponent >= 0 else {
            throw StrategyConfigError(
                field: "stalenessExponent", message: "must be finite and ≥ 0, is \(stalenessExponent)")
        }
    }
}
