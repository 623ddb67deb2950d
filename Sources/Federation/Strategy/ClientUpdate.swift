/// One device's update: a sparse delta (local model − global model), with the samples behind it.
///
/// Indices are strictly increasing and below the model's dimension, and `values` has one finite value per index.
/// Senders guarantee this; ``RoundAggregator/add(_:)`` checks it anyway and refuses an update that breaks it.
public struct ClientUpdate: Sendable, Hashable {
    /// The device that trained it.
    public var device: String
    /// Coordinates the delta touches, strictly increasing, each below the model's dimension.
    public var indices: [UInt32]
    /// The delta at each of ``indices`` (every other coordinate is 0).
    public var values: [Float]
    /// Samples behind the update (its weight in mean-family strategies), finite and ≥ 0.
    public var weight: Double
    /// Model versions published between the update's base model and the current one (0 in synchronous rounds).
    public var staleness: Int

    /// Creates an update.
    public init(device: String, indices: [UInt32], values: [Float], weight: Double, staleness: Int = 0) {
        self.device = device
        self.indices = indices
        self.values = values
        self.weight = weight
        self.staleness = staleness
    }
}
