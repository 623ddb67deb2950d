/// An update outside the server's bounds (``StrategyConfig/maxWeight``, ``StrategyConfig/maxAbsValue``): refused
/// before it counts for a round, so no single device can outweigh the rest or overflow the aggregate.
public enum BoundsViolation: String, Sendable, Hashable, CustomStringConvertible {
    /// The update claims more samples than ``StrategyConfig/maxWeight``.
    case weightTooLarge = "weight_too_large"
    /// A value's magnitude exceeds ``StrategyConfig/maxAbsValue`` (or is not finite).
    case valueOutOfRange = "value_out_of_range"

    /// The reason name used in acknowledgements and metrics.
    public var description: String { rawValue }
}

extension StrategyConfig {
    /// Whether an update of `weight` samples carrying `values` is within the bounds; else the first violation.
    public func violation(weight: Double, values: [Float]) -> BoundsViolation? {
        guard weight <= maxWeight else { return .weightTooLarge }
        let bound = Float(Swift.min(maxAbsValue, Double(Float.greatestFiniteMagnitude)))
        var largest: Float = 0
        var finite = true
        values.withUnsafeBufferPointer { values in
            for value in values {
                // NaN fails both comparisons; one pass, no early exit in the common case.
                let magnitude = abs(value)
                if !(magnitude <= bound) { finite = false }
                largest = Swift.max(largest, magnitude)
            }
        }
        return finite && largest <= bound ? nil : .valueOutOfRange
    }
}
