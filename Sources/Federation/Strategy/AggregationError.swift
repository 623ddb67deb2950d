/// Why an aggregator refused an update, a partial, or an apply.
public enum AggregationError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A partial, model or optimizer state sized for another model.
    case dimensionMismatch(expected: Int, got: Int)
    /// An update (or partial) that breaks its invariants: indices not increasing or out of range, counts that
    /// differ, a non-finite value, a negative weight… The text says which.
    case invalidUpdate(String)
    /// An update outside the strategy's bounds (its weight or a value's magnitude).
    case outOfBounds(BoundsViolation, device: String)
    /// Partials were asked of, or merged into, a strategy that needs every update at once (median, trimmed mean).
    case notMergeable(StrategyKind)
    /// ``RoundAggregator/apply(to:optimizer:)`` with no updates.
    case empty

    /// One line for a log.
    public var description: String {
        switch self {
        case .dimensionMismatch(let expected, let got): "dimension mismatch: expected \(expected), got \(got)"
        case .invalidUpdate(let reason): "invalid update: \(reason)"
        case .outOfBounds(let violation, let device): "\(device): update out of bounds (\(violation))"
        case .notMergeable(let kind): "\(kind.rawValue) aggregates cannot be split into partials"
        case .empty: "nothing to aggregate"
        }
    }
}
