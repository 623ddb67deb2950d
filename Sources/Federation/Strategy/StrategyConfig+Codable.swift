extension StrategyConfig {
    enum CodingKeys: String, CodingKey {
        case kind, serverLearningRate, beta1, beta2, tau, momentum, trimFraction, clipNorm, stalenessExponent, maxWeight
        case maxAbsValue, adaptiveClip
    }

    /// Decodes a configuration; a missing key takes its default, so a file need only name what it changes.
    /// `clip_norm: null` turns clipping off, `adaptive_clip: null` the adaptive bound.
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
        if container.contains(.clipNorm) {
            clipNorm =
                try container.decodeNil(forKey: .clipNorm) ? nil : container.decode(Double.self, forKey: .clipNorm)
        } else {
            clipNorm = defaults.clipNorm
        }
        if container.contains(.adaptiveClip) {
            adaptiveClip =
                try container.decodeNil(forKey: .adaptiveClip)
                ? nil : container.decode(Double.self, forKey: .adaptiveClip)
        } else {
            adaptiveClip = defaults.adaptiveClip
        }
        maxWeight = try container.decodeIfPresent(Double.self, forKey: .maxWeight) ?? defaults.maxWeight
        maxAbsValue = try container.decodeIfPresent(Double.self, forKey: .maxAbsValue) ?? defaults.maxAbsValue
        stalenessExponent =
            try container.decodeIfPresent(Double.self, forKey: .stalenessExponent) ?? defaults.stalenessExponent
    }
}

extension StrategyConfig {
    /// Encodes every setting; no clipping is written as `clip_norm: null`, so it decodes as no clipping.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(kind, forKey: .kind)
        try container.encode(serverLearningRate, forKey: .serverLearningRate)
        try container.encode(beta1, forKey: .beta1)
        try container.encode(beta2, forKey: .beta2)
        try container.encode(tau, forKey: .tau)
        try container.encode(momentum, forKey: .momentum)
        try container.encode(trimFraction, forKey: .trimFraction)
        if let clipNorm {
            try container.encode(clipNorm, forKey: .clipNorm)
        } else {
            try container.encodeNil(forKey: .clipNorm)
        }
        try container.encode(stalenessExponent, forKey: .stalenessExponent)
        try container.encode(maxWeight, forKey: .maxWeight)
        try container.encode(maxAbsValue, forKey: .maxAbsValue)
        if let adaptiveClip {
            try container.encode(adaptiveClip, forKey: .adaptiveClip)
        } else {
            try container.encodeNil(forKey: .adaptiveClip)
        }
    }
}
