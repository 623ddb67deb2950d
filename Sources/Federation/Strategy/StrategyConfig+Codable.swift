extension StrategyConfig {
    enum CodingKeys: String, CodingKey {
        case kind, serverLearningRate, beta1, beta2, tau, momentum, trimFraction, clipNorm, stalenessExponent
    }

    /// Decodes a configuration; a missing key takes its default, so a file need only name what it changes.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let defaults = StrategyConfig()
        kind = try container.decodeIfPresent(StrategyKind.self, forKey: .kind) ?? defaults.kind
        serverLearningRate =
            try container.decodeIfPresent(Double.self, forKey: .serverLearningRate) ?? defaults.serverLearningRate
        beta1 = try container.decodeIfPresent(Double.self, forKey: .beta1) ?? defaults.beta1
        beta2 = try container.decodeIfPresent(Double.self, forKey: .beta2) ?? defaults.beta2
        tau = try container.decodeIfPresent(Double.self, forKey: .tau) ?? defaults.tau
        momentum = try container.decodeIfPresent(Double.self, forKey: .momentum) ?? defaults.momentum
        trimFraction = try container.decodeIfPresent(Double.self, forKey: .trimFraction) ?? defaults.trimFraction
        clipNorm = try container.decodeIfPresent(Double.self, forKey: .clipNorm) ?? defaults.clipNorm
        stalenessExponent =
            try container.decodeIfPresent(Double.self, forKey: .stalenessExponent) ?? defaults.stalenessExponent
    }
}
