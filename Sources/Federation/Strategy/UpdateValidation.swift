/// The checks ``RoundAggregator/add(_:)`` makes before touching any state, and the update's L2 norm on the way.
enum UpdateValidation {
    /// ‖values‖₂ of `update`, after checking it is well-formed for a model of `dimension` parameters.
    static func norm(of update: ClientUpdate, dimension: Int) throws(AggregationError) -> Double {
        let device = update.device
        guard update.indices.count == update.values.count else {
            throw .invalidUpdate("\(device): \(update.indices.count) indices but \(update.values.count) values")
        }
        guard update.weight.isFinite, update.weight >= 0 else {
            throw .invalidUpdate("\(device): weight \(update.weight) is not finite and ≥ 0")
        }
        guard update.staleness >= 0 else {
            throw .invalidUpdate("\(device): negative staleness \(update.staleness)")
        }
        var sumOfSquares = 0.0
        var problem: String?
        update.indices.withUnsafeBufferPointer { indices in
            update.values.withUnsafeBufferPointer { values in
                var previous = -1
                for position in 0..<indices.count {
                    let index = Int(indices[position])
                    let value = values[position]
                    guard index > previous else {
                        problem = "index \(index) at position \(position) does not follow \(previous)"
                        return
                    }
                    guard index < dimension else {
                        problem = "index \(index) at position \(position) is not below the dimension \(dimension)"
                        return
                    }
                    guard value.isFinite else {
                        problem = "value \(value) at position \(position) is not finite"
                        return
                    }
                    previous = index
                    sumOfSquares += Double(value) * Double(value)
                }
            }
        }
        if let problem { throw .invalidUpdate("\(device): \(problem)") }
        return sumOfSquares.squareRoot()
    }

    /// Whether `partial` is well-formed for a model of `dimension` parameters; else the reason.
    static func check(_ partial: PartialAggregate, dimension: Int) -> AggregationError? {
        guard partial.dimension == dimension else {
            return .dimensionMismatch(expected: dimension, got: partial.dimension)
        }
        guard partial.indices.count == partial.weightedSums.count else {
            return .invalidUpdate(
                "partial: \(partial.indices.count) indices but \(partial.weightedSums.count) sums")
        }
        guard partial.totalWeight.isFinite, partial.totalWeight >= 0, partial.count >= 0 else {
            return .invalidUpdate("partial: weight \(partial.totalWeight), count \(partial.count)")
        }
        var previous = -1
        for (position, index32) in partial.indices.enumerated() {
            let index = Int(index32)
            guard index > previous, index < dimension, partial.weightedSums[position].isFinite else {
                return .invalidUpdate("partial: index \(index) or its sum at position \(position) is invalid")
            }
            previous = index
        }
        return nil
    }
}
