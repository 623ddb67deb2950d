import TributaryMath
public import Zstd

/// How many values an update carries.
public enum SparsityTarget: Sendable, Hashable {
    /// Exactly this many (capped at the dimension).
    case count(Int)
    /// This fraction of the dimension (e.g. 0.01 for 1 %).
    case fraction(Double)

    /// k for a vector of `dimension` parameters (at least 1).
    public func k(dimension: Int) -> Int {
        switch self {
        case .count(let k): Swift.max(1, Swift.min(dimension, k))
        case .fraction(let f): Swift.max(1, Swift.min(dimension, Int((f * Double(dimension)).rounded())))
        }
    }
}

/// The device side of sparse updates with error feedback (Deep Gradient Compression, Lin et al. 2018):
/// whatever is not sent stays in a residual and is added to the next update, so no mass is ever lost; optional
/// momentum correction accumulates a velocity instead of the raw delta; warm-up starts dense and grows sparser
/// over the first rounds.
public struct ErrorFeedback: Sendable {
    /// Parameters.
    public let dimension: Int
    /// What was not sent yet.
    public private(set) var residual: [Float]
    /// Momentum-corrected velocity (used when ``momentum`` > 0).
    public private(set) var velocity: [Float]
    /// Momentum for DGC's momentum correction (0: off).
    public var momentum: Float
    /// Top-k method.
    public var selection: TopK.Method
    /// Stochastic rounding for int8 values.
    public var stochasticRounding: Bool
    /// Parameter groups to sparsify separately (each keeps its share of k); empty: one global top-k.
    public var groups: [Range<Int>]
    var random: SplitMix64
    var scratch: [Float]

    /// Creates empty state for a model of `dimension` parameters.
    public init(
        dimension: Int, momentum: Float = 0, selection: TopK.Method = .automatic, stochasticRounding: Bool = false,
        groups: [Range<Int>] = [], seed: UInt64 = 1
    ) {
        self.dimension = dimension
        residual = Array(repeating: 0, count: dimension)
        velocity = momentum > 0 ? Array(repeating: 0, count: dimension) : []
        self.momentum = momentum
        self.selection = selection
        self.stochasticRounding = stochasticRounding
        self.groups = groups
        random = SplitMix64(seed: seed)
        scratch = Array(repeating: 0, count: dimension)
    }

    /// DGC's warm-up: the fraction of values to send in round `round` of a warm-up of `rounds` rounds, falling
    /// exponentially from 25 % to `target`.
    public static func warmupFraction(round: Int, rounds: Int, target: Double) -> Double {
        guard rounds > 0, round < rounds else { return target }
        let start = Swift.max(target, 0.25)
        let t = Double(round) / Double(rounds)
        return start * FastMath.pow(target / start, t)
    }

    /// What one compression produced: the sparse update to send, quantised, and what the receiver will decode.
    public struct Compressed: Sendable {
        /// Indices sent, strictly increasing.
        public var indices: [UInt32]
        /// Values as the receiver will decode them.
        public var values: [Float]
        /// The value encoding used.
        public var encoding: ValueEncoding
        var wire: QuantizedValues
    }

    /// Adds `delta` (local − global) to the residual, selects the top k of the sum, quantises them with
    /// `encoding`, and keeps everything not delivered (unselected entries and quantisation error) as the new
    /// residual.
    public mutating func compress(_ delta: UnsafeBufferPointer<Float>, k: Int, encoding: ValueEncoding) -> Compressed {
        accumulate(delta)
        let indices = selectIndices(k: k)
        let values = indices.map { residual[Int($0)] }
        let quantized = QuantizeStage(encoding: encoding, stochastic: stochasticRounding).apply(values, random: &random)
        settle(indices: indices, delivered: quantized.decoded)
        return Compressed(indices: indices, values: quantized.decoded, encoding: encoding, wire: quantized.wire)
    }

    /// The error-feedback stage's first half: residual ← residual + (momentum-corrected) `delta`, the
    /// accumulated update to choose from.
    public mutating func accumulate(_ delta: UnsafeBufferPointer<Float>) {
        precondition(delta.count == dimension, "delta has \(delta.count) values, the model \(dimension)")
        residual.withUnsafeMutableBufferPointer { r in
            if momentum > 0 {
                velocity.withUnsafeMutableBufferPointer { u in
                    for i in 0..<dimension {
                        u[i] = momentum * u[i] + delta[i]
                        r[i] += u[i]
                    }
                }
            } else {
                for i in 0..<dimension { r[i] += delta[i] }
            }
        }
    }

    /// The error-feedback stage's second half: what was delivered (the values as the receiver decodes them)
    /// leaves the residual; unselected entries and quantisation error stay for the next round.
    public mutating func settle(indices: [UInt32], delivered: [Float]) {
        precondition(indices.count == delivered.count, "one delivered value per index")
        for (position, index) in indices.enumerated() {
            let i = Int(index)
            residual[i] -= delivered[position]
            // Momentum factor masking: what was sent stops accumulating velocity.
            if momentum > 0 { velocity[i] = 0 }
        }
    }

    /// The top-k stage: the `k` largest-magnitude entries of the residual (each parameter group keeping its
    /// share when ``groups`` is set), strictly increasing.
    public mutating func selectIndices(k: Int) -> [UInt32] {
        let method = selection
        if groups.isEmpty {
            return residual.withUnsafeBufferPointer { r in
                scratch.withUnsafeMutableBufferPointer { TopK.select(r, k: k, method: method, scratch: $0) }
            }
        }
        var result: [UInt32] = []
        result.reserveCapacity(k)
        for group in groups {
            let share = Swift.max(1, Int((Double(k) * Double(group.count) / Double(dimension)).rounded()))
            let local = residual.withUnsafeBufferPointer { r in
                scratch.withUnsafeMutableBufferPointer { s in
                    TopK.select(
                        UnsafeBufferPointer(rebasing: r[group]), k: Swift.min(share, group.count), method: method,
                        scratch: UnsafeMutableBufferPointer(rebasing: s[group]))
                }
            }
            result += local.map { $0 + UInt32(group.lowerBound) }
        }
        return result
    }

    /// Forgets the residual and velocity (a new task, or a model reset).
    public mutating func reset() {
        for i in 0..<dimension { residual[i] = 0 }
        for i in velocity.indices { velocity[i] = 0 }
    }

    /// Replaces the state (restoring from disk).
    public mutating func restore(residual: [Float], velocity: [Float]) {
        precondition(residual.count == dimension && (velocity.isEmpty || velocity.count == dimension), "sizes differ")
        self.residual = residual
        self.velocity = velocity
    }
}

extension UpdateEncoder {
    /// Encodes what ``ErrorFeedback/compress(_:k:encoding:)`` produced.
    public mutating func encode(_ header: UpdateHeader, _ compressed: ErrorFeedback.Compressed) throws(ZstdError)
        -> [UInt8]
    {
        try encode(header, indices: compressed.indices, quantized: compressed.wire, valueEncoding: compressed.encoding)
    }
}
