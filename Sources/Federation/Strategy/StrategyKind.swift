/// How a round's updates become the next global model.
public enum StrategyKind: String, Sendable, Hashable, Codable, CaseIterable {
    /// Weighted mean of the updates, scaled by the server learning rate (McMahan et al. 2017).
    case fedAvg = "fedavg"
    /// Weighted mean fed through server momentum (Hsu et al. 2019).
    case fedAvgM = "fedavgm"
    /// Weighted mean fed through a server Adam step without bias correction (Reddi et al. 2021).
    case fedAdam = "fedadam"
    /// Weighted mean fed through a server Yogi step (Reddi et al. 2021).
    case fedYogi = "fedyogi"
    /// Weighted mean fed through a server Adagrad step (Reddi et al. 2021).
    case fedAdagrad = "fedadagrad"
    /// Coordinate-wise median of the (clipped) updates, unweighted.
    case median
    /// Coordinate-wise trimmed mean of the (clipped) updates, unweighted.
    case trimmedMean = "trimmed_mean"
}

extension StrategyKind {
    /// Whether the strategy is a (weighted) mean followed by a server step: streaming, and mergeable as partials.
    var isMeanFamily: Bool {
        switch self {
        case .fedAvg, .fedAvgM, .fedAdam, .fedYogi, .fedAdagrad: true
        case .median, .trimmedMean: false
        }
    }
}
