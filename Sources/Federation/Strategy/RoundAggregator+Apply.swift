extension RoundAggregator {
    /// Applies the aggregate to `model` (updating `optimizer`), returns the report. Does not reset.
    ///
    /// Throws ``AggregationError/empty`` without updates, and ``AggregationError/dimensionMismatch(expected:got:)``
    /// if `model` (or optimizer state the strategy uses) is sized for another model; neither is changed then.
    public mutating func apply(
        to model: inout [Float], optimizer: inout ServerOptimizerState
    ) throws(AggregationError) -> AggregationReport {
        guard count > 0 else { throw .empty }
        guard model.count == dimension else { throw .dimensionMismatch(expected: dimension, got: model.count) }
        let rule = ServerRule(config)
        if rule.usesFirstMoment, !optimizer.m.isEmpty, optimizer.m.count != dimension {
            throw .dimensionMismatch(expected: dimension, got: optimizer.m.count)
        }
        if rule.usesSecondMoment, !optimizer.v.isEmpty, optimizer.v.count != dimension {
            throw .dimensionMismatch(expected: dimension, got: optimizer.v.count)
        }

        let norms: (update: Double, applied: Double)
        if config.kind.isMeanFamily {
            norms = applyMean(rule, to: &model, optimizer: &optimizer)
        } else {
            norms = applyRobust(to: &model)
        }
        optimizer.step += 1
        return AggregationReport(
            participants: count, totalWeight: totalWeight, clipped: clipped, updateNorm: norms.update,
            appliedNorm: norms.applied)
    }

    /// Δ = sums / Σw (or / count when every update weighed nothing), through the server rule.
    private func applyMean(
        _ rule: ServerRule, to model: inout [Float], optimizer: inout ServerOptimizerState
    ) -> (update: Double, applied: Double) {
        let denominator = totalWeight > 0 ? totalWeight : Double(count)
        // Allocated by the first add or merge; zeros otherwise (never read out of bounds).
        let sums = accumulator.sums.count == dimension ? accumulator.sums : [Double](repeating: 0, count: dimension)
        var updateSquares = 0.0
        var appliedSquares = 0.0
        guard rule.usesFirstMoment else {
            // FedAvg moves touched coordinates only.
            let eta = config.serverLearningRate
            model.withUnsafeMutableBufferPointer { x in
                accumulator.forEachTouched { j in
                    let delta = sums[j] / denominator
                    updateSquares += delta * delta
                    let old = x[j]
                    x[j] = Float(Double(old) + eta * delta)
                    let moved = Double(x[j]) - Double(old)
                    appliedSquares += moved * moved
                }
            }
            return (updateSquares.squareRoot(), appliedSquares.squareRoot())
        }
        if optimizer.m.isEmpty { optimizer.m = [Float](repeating: 0, count: dimension) }
        if rule.usesSecondMoment, optimizer.v.isEmpty { optimizer.v = [Float](repeating: 0, count: dimension) }
        model.withUnsafeMutableBufferPointer { x in
            optimizer.m.withUnsafeMutableBufferPointer { m in
                optimizer.v.withUnsafeMutableBufferPointer { v in
                    sums.withUnsafeBufferPointer { sums in
                        for j in 0..<x.count {
                            let delta = sums[j] / denominator
                            updateSquares += delta * delta
                            let old = x[j]
                            x[j] = Float(Double(old) + rule.step(delta: delta, m: &m[j], v: v, at: j))
                            let moved = Double(x[j]) - Double(old)
                            appliedSquares += moved * moved
                        }
                    }
                }
            }
        }
        return (updateSquares.squareRoot(), appliedSquares.squareRoot())
    }

    /// x ← x + η·statistic at every touched coordinate.
    private func applyRobust(to model: inout [Float]) -> (update: Double, applied: Double) {
        let n = count
        let aggregate: (indices: [UInt32], values: [Double])
        if config.kind == .median {
            aggregate = buffer.aggregate(updates: n) { $0.median }
        } else {
            let trim = ImplicitZeros.trimCount(fraction: config.trimFraction, count: n)
            aggregate = buffer.aggregate(updates: n) { $0.trimmedMean(trim: trim) }
        }
        let eta = config.serverLearningRate
        var updateSquares = 0.0
        var appliedSquares = 0.0
        for (position, index) in aggregate.indices.enumerated() {
            let j = Int(index)
            let delta = aggregate.values[position]
            updateSquares += delta * delta
            let old = model[j]
            model[j] = Float(Double(old) + eta * delta)
            let moved = Double(model[j]) - Double(old)
            appliedSquares += moved * moved
        }
        return (updateSquares.squareRoot(), appliedSquares.squareRoot())
    }
}
