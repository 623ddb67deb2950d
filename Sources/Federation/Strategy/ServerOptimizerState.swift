/// Server optimizer state kept between rounds (persisted by the service with the model checkpoint).
///
/// FedAvgM uses ``m`` (the momentum); FedAdam, FedYogi and FedAdagrad use ``m`` and ``v``. Both stay empty until a
/// strategy first needs them, then hold one value per model parameter.
public struct ServerOptimizerState: Sendable, Hashable {
    /// First moment (or FedAvgM's momentum); empty until first used.
    public var m: [Float]
    /// Second moment; empty until first used.
    public var v: [Float]
    /// Aggregates applied so far.
    public var step: Int

    /// Fresh state: zero moments of `dimension` values each (empty for 0, the default), step 0.
    public init(dimension: Int = 0) {
        let count = Swift.max(0, dimension)
        m = count == 0 ? [] : [Float](repeating: 0, count: count)
        v = count == 0 ? [] : [Float](repeating: 0, count: count)
        step = 0
    }
}
