/// Collects one round's (or one FedBuff buffer's) updates and turns them into a new global model.
///
/// Mean-family strategies (``StrategyKind/fedAvg`` … ``StrategyKind/fedAdagrad``) stream: each update is folded
/// into a dense Double accumulator as it arrives and not kept, and shards can exchange ``PartialAggregate``s.
/// ``StrategyKind/median`` and ``StrategyKind/trimmedMean`` need every value of a coordinate at once, so they keep
/// the updates (sparse) until ``apply(to:optimizer:)``.
///
/// Each update is first scaled by its clip factor cᵢ = min(1, C/‖uᵢ‖₂) when ``StrategyConfig/clipNorm`` C is set,
/// and weighs wᵢ = nᵢ·(1+sᵢ)^(−a) (samples nᵢ, staleness sᵢ, ``StrategyConfig/stalenessExponent`` a). The mean
/// family aggregates Δ = Σ wᵢ·cᵢ·uᵢ / Σ wᵢ (the plain mean of the cᵢ·uᵢ if every wᵢ is 0); median and trimmed mean
/// are unweighted and count coordinates an update did not send as zeros.
/// The configuration is used as given: check it with ``StrategyConfig/validate()`` first.
public struct RoundAggregator: Sendable {
    /// The strategy and its settings.
    public let config: StrategyConfig
    /// Parameters of the model.
    public let dimension: Int
    /// Updates added, plus the counts of merged partials.
    public internal(set) var count = 0
    /// Sum of the effective weights (after the staleness factor).
    public internal(set) var totalWeight = 0.0
    /// Devices of the updates, in the order they were added or merged.
    public internal(set) var devices: [String] = []

    /// Updates that clipping scaled down.
    var clipped = 0
    /// The clip norm in force: ``StrategyConfig/clipNorm``, lowered after each round to
    /// ``StrategyConfig/adaptiveClip`` × the median norm of that round's updates.
    public internal(set) var roundClip: Double?
    /// Norms of this round's updates (for the next round's bound).
    var norms: [Double] = []
    /// Mean family: Σ wᵢ·cᵢ·uᵢ (Σ cᵢ·uᵢ while ``totalWeight`` is 0, for the unweighted fallback).
    var accumulator: SparseAccumulator
    /// Median and trimmed mean: the clipped updates.
    var buffer = RobustBuffer()

    /// An empty aggregator for a model of `dimension` (≥ 0) parameters.
    public init(config: StrategyConfig, dimension: Int) {
        precondition(dimension >= 0, "negative model dimension \(dimension)")
        self.config = config
        self.dimension = dimension
        accumulator = SparseAccumulator(dimension: dimension)
        roundClip = config.clipNorm
    }

    /// Adds one update; an update that fails validation is refused with ``AggregationError/invalidUpdate(_:)``,
    /// one outside the strategy's bounds with ``AggregationError/outOfBounds(_:device:)``; either leaves the
    /// aggregator as it was.
    public mutating func add(_ update: ClientUpdate) throws(AggregationError) {
        let norm = try UpdateValidation.norm(of: update, dimension: dimension)
        if let violation = config.violation(weight: update.weight, values: update.values) {
            throw .outOfBounds(violation, device: update.device)
        }
        let weight =
            update.weight * StalenessWeight.factor(staleness: update.staleness, exponent: config.stalenessExponent)
        let newTotal = totalWeight + weight
        guard newTotal.isFinite else {
            throw .invalidUpdate("\(update.device): weight \(update.weight) overflows the round's total")
        }
        let clipFactor = Self.clipFactor(norm: norm, clipNorm: roundClip)

        if config.kind.isMeanFamily {
            if newTotal > 0 {
                // The first weighted update ends the unweighted fallback: unweighted sums no longer count.
                if totalWeight == 0 { accumulator.clearSums() }
                accumulator.add(indices: update.indices, values: update.values, scale: weight * clipFactor)
            } else {
                accumulator.add(indices: update.indices, values: update.values, scale: clipFactor)
            }
        } else {
            guard buffer.canTake(update.values.count) else {
                throw .invalidUpdate("\(update.device): more than \(RobustBuffer.maximumEntries) values in a round")
            }
            buffer.append(indices: update.indices, values: update.values, clipFactor: clipFactor)
        }
        count += 1
        totalWeight = newTotal
        devices.append(update.device)
        if clipFactor < 1 { clipped += 1 }
        norms.append(norm)
    }

    /// min(1, C/‖u‖) for a set clip norm C, else 1 (and 1 for a zero update).
    static func clipFactor(norm: Double, clipNorm: Double?) -> Double {
        guard let clipNorm, norm > clipNorm else { return 1 }
        return clipNorm / norm
    }

    /// Back to no updates (keeping allocated storage for the next round); with adaptive clipping, the next round's
    /// bound comes from this round's norms.
    public mutating func reset() {
        if let multiple = config.adaptiveClip, !norms.isEmpty {
            norms.sort()
            let median = norms.withUnsafeBufferPointer { ImplicitZeros(sorted: $0, zeros: 0).median }
            // A round of zero updates sets no bound (a zero clip norm would refuse every update).
            if median > 0 { roundClip = Swift.min(config.clipNorm ?? .infinity, multiple * median) }
        }
        norms.removeAll(keepingCapacity: true)
        count = 0
        totalWeight = 0
        devices.removeAll(keepingCapacity: true)
        clipped = 0
        accumulator.reset()
        buffer.reset()
    }
}
