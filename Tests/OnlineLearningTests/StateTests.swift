import Foundation
import OnlineLearning
import Testing
import TributaryWire

@Suite struct StateTests {
    static func stream(_ learner: inout OnlineLearner, seed: UInt64, count: Int) {
        var data = TestData(seed: seed)
        for _ in 0..<count {
            let x = data.vector(learner.network.inputs)
            learner.train(x, .label(Int(data.random.next() % 3)))
        }
    }

    @Test("the same seed and inputs give bit-identical models, for every optimizer")
    func deterministic() {
        for optimizer in [Optimizer.sgd(momentum: 0), .sgd(momentum: 0.9), .adam] {
            let configuration = TrainingConfiguration(
                optimizer: optimizer, schedule: .inverseSquareRoot(0.05, warmup: 100))
            var a = OnlineLearner(
                network: .mlp(inputs: 6, hidden: [8], classes: 3), configuration: configuration, seed: 9)
            var b = OnlineLearner(
                network: .mlp(inputs: 6, hidden: [8], classes: 3), configuration: configuration, seed: 9)
            Self.stream(&a, seed: 1, count: 2_000)
            Self.stream(&b, seed: 1, count: 2_000)
            #expect(a.parameters.map(\.bitPattern) == b.parameters.map(\.bitPattern))
        }
    }

    @Test("saving and restoring a learner round trips exactly: both continue identically")
    func saveRestore() throws {
        var original = OnlineLearner(
            network: .mlp(inputs: 6, hidden: [5], classes: 3),
            configuration: TrainingConfiguration(optimizer: .adam, proximalMu: 0.1, averageFrom: 100), seed: 2)
        Self.stream(&original, seed: 2, count: 500)
        original.anchor = original.parameters.map { $0 * 0.5 }
        let saved = original.savedState()
        var restored = OnlineLearner(network: original.network, configuration: original.configuration, seed: 99)
        try saved.withUnsafeBytes { try restored.restore($0) }
        #expect(restored.parameters == original.parameters)
        #expect(restored.steps == original.steps)
        #expect(restored.standardizer == original.standardizer)
        Self.stream(&original, seed: 3, count: 300)
        Self.stream(&restored, seed: 3, count: 300)
        #expect(restored.parameters.map(\.bitPattern) == original.parameters.map(\.bitPattern))
        #expect(restored.averagedSteps == original.averagedSteps && original.averagedSteps > 0)
        #expect(restored.effectiveParameters.map(\.bitPattern) == original.effectiveParameters.map(\.bitPattern))
    }

    @Test("a damaged or foreign state is refused with a typed error and changes nothing")
    func badState() {
        var learner = OnlineLearner(network: .softmax(inputs: 3, classes: 2), seed: 1)
        let before = learner.parameters
        var saved = learner.savedState()
        saved[20] ^= 0xFF
        let damaged = #expect(throws: WireError.self) { try saved.withUnsafeBytes { try learner.restore($0) } }
        #expect(damaged?.code == .badChecksum)
        let other = OnlineLearner(network: .softmax(inputs: 4, classes: 2), seed: 1).savedState()
        let foreign = #expect(throws: WireError.self) { try other.withUnsafeBytes { try learner.restore($0) } }
        #expect(foreign?.code == .mismatch)
        #expect(learner.parameters == before)
    }

    @Test("the FedProx term keeps local training near the global model")
    func fedProx() {
        func distance(mu: Float) -> Float {
            var learner = OnlineLearner(
                network: .softmax(inputs: 4, classes: 3),
                configuration: TrainingConfiguration(schedule: .constant(0.05), proximalMu: mu),
                seed: 1, standardize: false)
            let global = learner.parameters
            learner.adoptGlobal(global, proximal: true)
            Self.stream(&learner, seed: 7, count: 2_000)
            return zip(learner.parameters, global).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }.squareRoot()
        }
        let free = distance(mu: 0)
        let pulled = distance(mu: 1)
        #expect(pulled < 0.5 * free)
    }

    @Test("standardizer statistics merge (to float precision) and standardise to zero mean, unit variance")
    func standardizer() {
        var data = TestData(seed: 4)
        let rows = (0..<1_024).map { _ in data.vector(3).enumerated().map { Float($0.offset * 10) + $0.element * 2 } }
        var whole = Standardizer(dimension: 3)
        var left = Standardizer(dimension: 3)
        var right = Standardizer(dimension: 3)
        for (i, row) in rows.enumerated() {
            row.withUnsafeBufferPointer { whole.update($0.baseAddress!) }
            row.withUnsafeBufferPointer { i < 400 ? left.update($0.baseAddress!) : right.update($0.baseAddress!) }
        }
        left.merge(right)
        for i in 0..<3 {
            // Samples accumulate in float blocks, so parts and whole agree to float precision.
            #expect(abs(left.mean[i] - whole.mean[i]) < 1e-6)
            #expect(abs(left.m2[i] - whole.m2[i]) / whole.m2[i] < 1e-6)
        }
        var sums = [Double](repeating: 0, count: 3)
        var squares = [Double](repeating: 0, count: 3)
        var out = [Float](repeating: 0, count: 3)
        for row in rows {
            row.withUnsafeBufferPointer { r in
                out.withUnsafeMutableBufferPointer { whole.transform(r.baseAddress!, into: $0.baseAddress!) }
            }
            for i in 0..<3 {
                sums[i] += Double(out[i])
                squares[i] += Double(out[i] * out[i])
            }
        }
        for i in 0..<3 {
            #expect(abs(sums[i] / 1_024) < 1e-4)
            #expect(abs(squares[i] / 1_024 - 1) < 1e-3)
        }
    }
}
