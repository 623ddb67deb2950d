import OnlineLearning
import Testing

/// Every network's analytic gradient matches central finite differences of its loss.
@Suite struct GradientTests {
    static let networks: [(String, Network, Target)] = [
        ("linear", .linearRegression(inputs: 5), .value(0.7)),
        ("logistic", .logisticRegression(inputs: 5), .label(1)),
        ("softmax", .softmax(inputs: 5, classes: 4), .label(2)),
        ("mlp-tanh", .mlp(inputs: 5, hidden: [6], classes: 3, activation: .tanh), .label(0)),
        ("mlp-relu-2", .mlp(inputs: 5, hidden: [7, 4], classes: 3, activation: .relu), .label(1)),
        ("mlp-regression", Network(inputs: 5, hidden: [4], activation: .tanh, head: .linear), .value(-1.5)),
    ]

    static func loss(_ network: Network, _ x: [Float], _ target: Target, _ p: [Float]) -> Double {
        var gradient = [Float](repeating: 0, count: p.count)
        var scratch = [Float](repeating: 0, count: network.scratchCount)
        var output = [Float](repeating: 0, count: network.outputs)
        return Double(
            network.backward(
                x, target: target, parameters: p, gradient: &gradient, output: &output,
                scratch: &scratch))
    }

    @Test("analytic gradients match finite differences", arguments: networks.indices)
    func finiteDifferences(index: Int) {
        let (name, network, target) = Self.networks[index]
        var data = TestData(seed: UInt64(index + 1))
        let x = data.vector(network.inputs)
        var p = network.initialParameters(seed: 3)
        for i in p.indices { p[i] += 0.1 * data.normal() }  // biases away from zero, ReLUs away from kinks
        var gradient = [Float](repeating: 0, count: p.count)
        var scratch = [Float](repeating: 0, count: network.scratchCount)
        var output = [Float](repeating: 0, count: network.outputs)
        _ = network.backward(x, target: target, parameters: p, gradient: &gradient, output: &output, scratch: &scratch)
        var worst = 0.0
        for i in p.indices {
            let h: Float = 1e-2
            var plus = p
            var minus = p
            plus[i] += h
            minus[i] -= h
            let numeric = (Self.loss(network, x, target, plus) - Self.loss(network, x, target, minus)) / Double(2 * h)
            let analytic = Double(gradient[i])
            let error = abs(numeric - analytic) / max(1e-2, abs(numeric) + abs(analytic))
            worst = max(worst, error)
        }
        #expect(worst < 0.02, "\(name): worst relative gradient error \(worst)")
    }
}
