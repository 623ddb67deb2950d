extension RoundAggregator {
    /// What this aggregator holds, as a partial another shard can ``merge(_:)`` (mean family only).
    public func partial() throws(AggregationError) -> PartialAggregate {
        guard config.kind.isMeanFamily else { throw .notMergeable(config.kind) }
        var indices = [UInt32]()
        var sums = [Double]()
        indices.reserveCapacity(accumulator.touchedCount)
        sums.reserveCapacity(accumulator.touchedCount)
        let all = accumulator.sums
        accumulator.forEachTouched { index in
            indices.append(UInt32(truncatingIfNeeded: index))
            sums.append(all[index])
        }
        return PartialAggregate(
            dimension: dimension, indices: indices, weightedSums: sums, totalWeight: totalWeight, count: count,
            devices: devices)
    }

    /// Adds another shard's partial: sums, weights, counts and devices (mean family only). A malformed partial is
    /// refused and leaves the aggregator as it was.
    public mutating func merge(_ partial: PartialAggregate) throws(AggregationError) {
        guard config.kind.isMeanFamily else { throw .notMergeable(config.kind) }
        if let error = UpdateValidation.check(partial, dimension: dimension) { throw error }
        let newTotal = totalWeight + partial.totalWeight
        let (newCount, overflow) = count.addingReportingOverflow(partial.count)
        guard newTotal.isFinite, !overflow else {
            throw .invalidUpdate("partial: weight \(partial.totalWeight) or count \(partial.count) overflows")
        }
        // Sums of weightless updates are unweighted (see PartialAggregate); they count only while no side has weight.
        if partial.totalWeight > 0 {
            if totalWeight == 0 { accumulator.clearSums() }
            accumulator.add(indices: partial.indices, sums: partial.weightedSums)
        } else {
            accumulator.add(indices: partial.indices, sums: partial.weightedSums, addSums: totalWeight == 0)
        }
        count = newCount
        totalWeight = newTotal
        devices.append(contentsOf: partial.devices)
    }
}
