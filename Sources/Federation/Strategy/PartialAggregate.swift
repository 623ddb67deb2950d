/// A mergeable partial aggregate of mean-family updates, for splitting a round over several aggregator shards.
///
/// Holds Σ wᵢ·cᵢ·uᵢ over the coordinates any of its updates touched (ascending, Double sums), Σ wᵢ, the count
/// and the devices. One exception keeps the unweighted fallback mergeable: while ``totalWeight`` is 0 (every
/// update weighed nothing) ``weightedSums`` holds the unweighted sums Σ cᵢ·uᵢ instead.
public struct PartialAggregate: Sendable, Hashable {
    /// Parameters of the model the updates are for.
    public var dimension: Int
    /// Every coordinate any update touched, strictly increasing.
    public var indices: [UInt32]
    /// Σ wᵢ·cᵢ·uᵢ at each of ``indices`` (Σ cᵢ·uᵢ while ``totalWeight`` is 0).
    public var weightedSums: [Double]
    /// Σ wᵢ, the effective weights (after the staleness factor).
    public var totalWeight: Double
    /// Updates inside.
    public var count: Int
    /// Their devices, in the order they were added.
    public var devices: [String]

    /// Creates a partial (for example one decoded from another shard).
    public init(
        dimension: Int, indices: [UInt32], weightedSums: [Double], totalWeight: Double, count: Int, devices: [String]
    ) {
        self.dimension = dimension
        self.indices = indices
        self.weightedSums = weightedSums
        self.totalWeight = totalWeight
        self.count = count
        self.devices = devices
    }
}
