public import TributaryMath

/// How a network turns its last layer into predictions, and which loss it trains with.
public enum Head: String, Sendable, Hashable, Codable, CaseIterable {
    /// Identity outputs, squared error: regression.
    case linear
    /// One output through the logistic function, log-loss: binary classification.
    case sigmoid
    /// Softmax over the outputs, cross-entropy: multiclass classification.
    case softmax
}

/// Nonlinearity of hidden layers.
public enum Activation: String, Sendable, Hashable, Codable, CaseIterable {
    /// max(0, x).
    case relu
    /// tanh(x).
    case tanh
}

/// What one sample is trained towards: a class index (sigmoid: 0 or 1; softmax: 0…classes−1) or a value
/// (linear head with one output).
public struct Target: Sendable, Hashable {
    /// Class index for classification heads.
    public var label: Int
    /// Target value for regression.
    public var value: Float

    /// A classification target.
    public static func label(_ label: Int) -> Target { Target(label: label, value: Float(label)) }
    /// A regression target.
    public static func value(_ value: Float) -> Target { Target(label: 0, value: value) }
}

/// A small feed-forward network over a flat parameter vector: zero or more hidden layers and a head. Linear
/// regression, logistic regression and softmax regression are the networks without hidden layers; an MLP has
/// one or two. The network holds no parameters itself, only their ``layout``, so the same parameters can be
/// exchanged, averaged and compressed without knowing the model.
public struct Network: Sendable, Hashable {
    /// Input features.
    public let inputs: Int
    /// Hidden layer widths (empty for linear models).
    public let hidden: [Int]
    /// Hidden nonlinearity.
    public let activation: Activation
    /// Output head.
    public let head: Head
    /// Outputs: 1 for linear (one value) and sigmoid heads, the class count for softmax.
    public let outputs: Int
    /// Where each layer's weights and biases sit.
    public let layout: ParameterLayout
    /// Layer widths, inputs first.
    @usableFromInline let widths: [Int]

    /// Creates a network.
    public init(inputs: Int, hidden: [Int] = [], activation: Activation = .relu, head: Head, outputs: Int = 1) {
        precondition(inputs > 0 && outputs > 0 && hidden.allSatisfy { $0 > 0 }, "sizes must be positive")
        precondition(head == .softmax || outputs == 1, "linear and sigmoid heads have one output")
        precondition(head != .softmax || outputs >= 2, "a softmax head needs at least two classes")
        self.inputs = inputs
        self.hidden = hidden
        self.activation = activation
        self.head = head
        self.outputs = outputs
        widths = [inputs] + hidden + [outputs]
        var layout = ParameterLayout()
        for layer in 0..<(widths.count - 1) {
            layout.add("dense\(layer).weight", shape: [widths[layer + 1], widths[layer]])
            layout.add("dense\(layer).bias", shape: [widths[layer + 1]])
        }
        self.layout = layout
    }

    /// Linear regression on `inputs` features.
    public static func linearRegression(inputs: Int) -> Network { Network(inputs: inputs, head: .linear) }
    /// Binary logistic regression.
    public static func logisticRegression(inputs: Int) -> Network { Network(inputs: inputs, head: .sigmoid) }
    /// Multiclass softmax regression.
    public static func softmax(inputs: Int, classes: Int) -> Network {
        Network(inputs: inputs, head: .softmax, outputs: classes)
    }
    /// A multilayer perceptron with a softmax head.
    public static func mlp(inputs: Int, hidden: [Int], classes: Int, activation: Activation = .relu) -> Network {
        Network(inputs: inputs, hidden: hidden, activation: activation, head: .softmax, outputs: classes)
    }

    /// Number of parameters.
    public var parameterCount: Int { layout.count }
    /// Scratch floats needed: pre-activations and deltas of every non-input layer.
    public var scratchCount: Int { 2 * widths.dropFirst().reduce(0, +) }

    /// Random initial parameters: Glorot-uniform weights (He-uniform before ReLU), zero biases.
    public func initialParameters(seed: UInt64) -> [Float] {
        var random = SplitMix64(seed: seed)
        var parameters = [Float](repeating: 0, count: layout.count)
        for layer in 0..<(widths.count - 1) {
            let fanIn = Double(widths[layer])
            let fanOut = Double(widths[layer + 1])
            let reluBelow = layer < widths.count - 2 && activation == .relu
            let limit = reluBelow ? (6 / fanIn).squareRoot() : (6 / (fanIn + fanOut)).squareRoot()
            let weights = layout.groups[2 * layer]
            for i in weights.range { parameters[i] = Float((2 * random.unit() - 1) * limit) }
        }
        return parameters
    }
}
