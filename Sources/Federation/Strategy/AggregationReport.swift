/// What one ``RoundAggregator/apply(to:optimizer:)`` did, for logs and metrics.
public struct AggregationReport: Sendable, Hashable {
    /// Updates aggregated (including those inside merged partials).
    public var participants: Int
    /// Sum of the effective weights (sample counts after the staleness factor).
    public var totalWeight: Double
    /// Updates that norm clipping scaled down (counted where they were added; partials do not carry it).
    public var clipped: Int
    /// ‖Δ‖₂ of the aggregated update before the server optimizer.
    public var updateNorm: Double
    /// ‖x_new − x_old‖₂: how far the stored model moved.
    public var appliedNorm: Double

    /// Creates a report.
    public init(participants: Int, totalWeight: Double, clipped: Int, updateNorm: Double, appliedNorm: Double) {
        self.participants = participants
        self.totalWeight = totalWeight
        self.clipped = clipped
        self.updateNorm = updateNorm
        self.appliedNorm = appliedNorm
    }
}
