public import TributaryMath

extension Network {
    /// Computes the predictions for input `x`: the output value (linear), P(class 1) (sigmoid) or class
    /// probabilities (softmax) into `output`. `scratch` holds ``scratchCount`` floats.
    @inlinable
    public func forward(
        _ x: UnsafePointer<Float>, parameters p: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>,
        scratch: UnsafeMutablePointer<Float>
    ) {
        var input = UnsafePointer(x)
        var offset = 0
        var activationOffset = 0
        let layers = widths.count - 1
        for layer in 0..<layers {
            let fanIn = widths[layer]
            let width = widths[layer + 1]
            let weights = p + offset
            let biases = p + offset + width * fanIn
            let z = scratch + activationOffset
            for i in 0..<width {
                z[i] = Vector.dot(weights + i * fanIn, input, count: fanIn) + biases[i]
            }
            if layer < layers - 1 {
                // Hidden layers keep their activations right after the pre-activations' slot reuse: z becomes a.
                for i in 0..<width {
                    switch activation {
                    case .relu: z[i] = Swift.max(0, z[i])
                    case .tanh: z[i] = FastMath.tanh(z[i])
                    }
                }
            }
            input = UnsafePointer(z)
            offset += width * fanIn + width
            activationOffset += width
        }
        let logits = scratch + (activationOffset - outputs)
        switch head {
        case .linear:
            output.update(from: logits, count: outputs)
        case .sigmoid:
            output[0] = FastMath.sigmoid(logits[0])
        case .softmax:
            var largest = logits[0]
            for i in 1..<outputs { largest = Swift.max(largest, logits[i]) }
            var sum = 0.0
            for i in 0..<outputs {
                let e = FastMath.exp(Double(logits[i] - largest))
                output[i] = Float(e)
                sum += e
            }
            for i in 0..<outputs { output[i] = Float(Double(output[i]) / sum) }
        }
    }

    /// Adds the gradient of the loss for one sample to `gradient` and returns the loss: half squared error
    /// (linear), log-loss (sigmoid) or cross-entropy (softmax). `output` receives the predictions on the way.
    @inlinable
    public func backward(
        _ x: UnsafePointer<Float>, target: Target, parameters p: UnsafePointer<Float>,
        gradient: UnsafeMutablePointer<Float>, output: UnsafeMutablePointer<Float>,
        scratch: UnsafeMutablePointer<Float>,
        computeLoss: Bool = true
    ) -> Float {
        forward(x, parameters: p, output: output, scratch: scratch)
        let layers = widths.count - 1
        let activationTotal = widths.dropFirst().reduce(0, +)
        let deltas = scratch + activationTotal
        // Output deltas: prediction − target for all three heads (their losses are matched to make it so).
        var deltaOffset = activationTotal - outputs
        let outputDelta = deltas + deltaOffset
        let loss: Float
        switch head {
        case .linear:
            let error = output[0] - target.value
            outputDelta[0] = error
            loss = 0.5 * error * error
        case .sigmoid:
            let y: Float = target.label == 1 ? 1 : 0
            outputDelta[0] = output[0] - y
            let probability = Double(y == 1 ? output[0] : 1 - output[0])
            loss = computeLoss ? Float(-FastMath.log(Swift.max(probability, 1e-15))) : .nan
        case .softmax:
            precondition((0..<outputs).contains(target.label), "label \(target.label) outside 0..<\(outputs)")
            for i in 0..<outputs { outputDelta[i] = output[i] - (i == target.label ? 1 : 0) }
            loss = computeLoss ? Float(-FastMath.log(Swift.max(Double(output[target.label]), 1e-15))) : .nan
        }
        // Walk back through the layers.
        var offset = layout.count
        var activationOffset = activationTotal - outputs
        for layer in stride(from: layers - 1, through: 0, by: -1) {
            let fanIn = widths[layer]
            let width = widths[layer + 1]
            offset -= width * fanIn + width
            let weights = p + offset
            let weightGradient = gradient + offset
            let biasGradient = gradient + offset + width * fanIn
            let delta = deltas + deltaOffset
            let previousOffset = activationOffset - fanIn
            let input: UnsafePointer<Float> = layer == 0 ? x : UnsafePointer(scratch + previousOffset)
            for i in 0..<width {
                Vector.axpy(delta[i], input, weightGradient + i * fanIn, count: fanIn)
                biasGradient[i] += delta[i]
            }
            if layer > 0 {
                let previousDelta = deltas + previousOffset
                Vector.zero(previousDelta, count: fanIn)
                for i in 0..<width { Vector.axpy(delta[i], weights + i * fanIn, previousDelta, count: fanIn) }
                // Through the nonlinearity, using the stored activation a = f(z).
                let a = scratch + previousOffset
                for j in 0..<fanIn {
                    switch activation {
                    case .relu: if a[j] <= 0 { previousDelta[j] = 0 }
                    case .tanh: previousDelta[j] *= 1 - a[j] * a[j]
                    }
                }
                deltaOffset = previousOffset
            }
            activationOffset = previousOffset
        }
        return loss
    }
}
