import OnlineLearning
import Testing

@Suite struct LearningTests {
    @Test("linear regression recovers a noisy linear relation")
    func linearRegression() {
        var data = TestData(seed: 1)
        let weights: [Float] = [2, -1, 0.5, 3]
        var learner = OnlineLearner(
            network: .linearRegression(inputs: 4),
            configuration: TrainingConfiguration(schedule: .constant(0.02)), seed: 1)
        var metrics = RegressionMetrics()
        for i in 0..<20_000 {
            let x = data.vector(4)
            let y = zip(weights, x).reduce(1) { $0 + $1.0 * $1.1 } + 0.1 * data.normal()
            if i >= 19_000 { metrics.add(prediction: learner.predict(x)[0], target: y) }
            learner.train(x, .value(y))
        }
        #expect(metrics.mse < 0.05)
    }

    @Test("parameter averaging brings one noisy pass closer to the true model")
    func averaging() {
        func error(averageFrom: Int?) -> Double {
            var data = TestData(seed: 11)
            let weights: [Float] = [1, -2, 0.5, 1.5]
            var learner = OnlineLearner(
                network: .linearRegression(inputs: 4),
                configuration: TrainingConfiguration(schedule: .constant(0.05), averageFrom: averageFrom), seed: 1,
                standardize: false)
            for _ in 0..<5_000 {
                let x = data.vector(4)
                learner.train(x, .value(zip(weights, x).reduce(0) { $0 + $1.0 * $1.1 } + 2 * data.normal()))
            }
            let learned = learner.effectiveParameters
            return zip(weights, learned).reduce(0) { $0 + Double(($1.0 - $1.1) * ($1.0 - $1.1)) }
        }
        let plain = error(averageFrom: nil)
        let averaged = error(averageFrom: 500)
        #expect(averaged < 0.3 * plain, "averaged \(averaged) vs plain \(plain)")
    }

    @Test("logistic regression separates two classes")
    func logistic() {
        var data = TestData(seed: 2)
        var learner = OnlineLearner(network: .logisticRegression(inputs: 8), seed: 2)
        var evaluator = StreamEvaluator(classes: 2, outputs: 1, holdoutEvery: 5)
        let w = data.vector(8)
        for _ in 0..<20_000 {
            let x = data.vector(8)
            let label = zip(w, x).reduce(0) { $0 + $1.0 * $1.1 } + 0.3 * data.normal() > 0 ? 1 : 0
            x.withUnsafeBufferPointer { _ = evaluator.process($0, target: .label(label), learner: &learner) }
        }
        #expect(evaluator.holdout.accuracy > 0.93)
        #expect(evaluator.holdout.count == 4_000)
        #expect(evaluator.prequential.count == 16_000)
    }

    /// Three Gaussian blobs, or (with `rings`) two concentric rings that no linear model separates.
    static func sample(_ data: inout TestData, rings: Bool) -> ([Float], Int) {
        if rings {
            // A disc (class 0) inside an annulus (class 1), equally likely, by rejection sampling in a square.
            let label = data.random.unit() < 0.5 ? 0 : 1
            while true {
                let x = Float(data.random.unit() * 8 - 4)
                let y = Float(data.random.unit() * 8 - 4)
                let r2 = x * x + y * y
                if label == 0 && r2 < 2.25 { return ([x, y], 0) }
                if label == 1 && r2 > 6.25 && r2 < 16 { return ([x, y], 1) }
            }
        }
        let label = Int(data.random.next() % 3)
        let centers: [[Float]] = [[0, 3], [3, -2], [-3, -2]]
        return ([centers[label][0] + data.normal(), centers[label][1] + data.normal()], label)
    }

    @Test("softmax separates blobs; only the MLP learns concentric rings")
    func softmaxAndMLP() {
        var data = TestData(seed: 3)
        var softmax = OnlineLearner(network: .softmax(inputs: 2, classes: 3), seed: 3)
        var blobs = ClassificationMetrics(classes: 3)
        for i in 0..<15_000 {
            let (x, label) = Self.sample(&data, rings: false)
            if i >= 14_000 { blobs.add(actual: label, predicted: softmax.predictClass(x)) }
            softmax.train(x, .label(label))
        }
        #expect(blobs.accuracy > 0.9)

        var linear = OnlineLearner(network: .softmax(inputs: 2, classes: 2), seed: 4)
        var mlp = OnlineLearner(
            network: .mlp(inputs: 2, hidden: [16], classes: 2),
            configuration: TrainingConfiguration(optimizer: .adam, schedule: .constant(0.01)), seed: 4)
        var linearRings = ClassificationMetrics(classes: 2)
        var mlpRings = ClassificationMetrics(classes: 2)
        for i in 0..<40_000 {
            let (x, label) = Self.sample(&data, rings: true)
            if i >= 38_000 {
                linearRings.add(actual: label, predicted: linear.predictClass(x))
                mlpRings.add(actual: label, predicted: mlp.predictClass(x))
            }
            linear.train(x, .label(label))
            mlp.train(x, .label(label))
        }
        #expect(mlpRings.accuracy > 0.95)
        #expect(linearRings.accuracy < 0.75)
    }

    @Test("mini-batches train too, with momentum and L2")
    func miniBatch() {
        var data = TestData(seed: 5)
        var learner = OnlineLearner(
            network: .softmax(inputs: 2, classes: 3),
            configuration: TrainingConfiguration(
                optimizer: .sgd(momentum: 0.9),
                schedule: .constant(0.05), l2: 1e-4), seed: 5)
        for _ in 0..<1_000 {
            var xs: [Float] = []
            var targets: [Target] = []
            for _ in 0..<16 {
                let (x, label) = Self.sample(&data, rings: false)
                xs += x
                targets.append(.label(label))
            }
            xs.withUnsafeBufferPointer { _ = learner.train(batch: $0, targets: targets) }
        }
        var metrics = ClassificationMetrics(classes: 3)
        for _ in 0..<1_000 {
            let (x, label) = Self.sample(&data, rings: false)
            metrics.add(actual: label, predicted: learner.predictClass(x))
        }
        #expect(metrics.accuracy > 0.9)
        #expect(learner.steps == 1_000)
    }
}
