import OnlineLearning
import Testing

@Suite struct EvaluationTests {
    @Test("the confusion matrix gives accuracy, per-class and macro F1, and log-loss")
    func metrics() {
        var m = ClassificationMetrics(classes: 3)
        for (actual, predicted) in [(0, 0), (0, 0), (0, 1), (1, 1), (1, 1), (2, 0), (2, 2), (2, 2)] {
            m.add(actual: actual, predicted: predicted)
        }
        #expect(m.accuracy == 6.0 / 8)
        // class 0: tp 2, predicted 3, actual 3 → 2·2/6; class 1: tp 2, predicted 3, actual 2 → 4/5; class 2: 4/5.
        #expect(abs(m.f1[0] - 4.0 / 6) < 1e-12 && abs(m.f1[1] - 0.8) < 1e-12 && abs(m.f1[2] - 0.8) < 1e-12)
        #expect(abs(m.macroF1 - (4.0 / 6 + 1.6) / 3) < 1e-12)
        var p = ClassificationMetrics(classes: 2)
        let probabilities: [Float] = [0.8]
        probabilities.withUnsafeBufferPointer { p.add(actual: 1, probabilities: $0) }
        probabilities.withUnsafeBufferPointer { p.add(actual: 0, probabilities: $0) }
        #expect(abs(p.logLoss - (-(log08 + log02) / 2)) < 1e-6)
    }

    let log08 = -0.22314355131420976
    let log02 = -1.6094379124341003

    @Test("the P² estimate tracks a quantile closely")
    func p2() {
        var data = TestData(seed: 8)
        var estimator = P2Quantile(p: 0.99)
        var values: [Double] = []
        for _ in 0..<50_000 {
            let v = Double(data.normal())
            values.append(v)
            estimator.add(v)
        }
        let exact = values.sorted()[Int(0.99 * Double(values.count))]
        #expect(abs(estimator.value - exact) < 0.05)
    }

    @Test("the anomaly scorer keeps false alarms near its target and catches injected anomalies")
    func anomalies() {
        var data = TestData(seed: 9)
        var scorer = AnomalyScorer(dimension: 4, targetRate: 0.01, warmup: 500)
        var state: [Float] = [0, 0, 0, 0]
        var normalAlarms = 0
        var normalCount = 0
        var caught = 0
        var injected = 0
        for t in 0..<60_000 {
            for i in 0..<4 { state[i] = 0.8 * state[i] + data.normal() }  // AR(1) process
            var x = state
            let anomalous = t > 5_000 && t % 500 == 0
            if anomalous {
                x[Int(data.random.next() % 4)] += 12
                injected += 1
            }
            let (_, alarm) = x.withUnsafeBufferPointer { scorer.score($0) }
            if t > 5_000 {
                if anomalous {
                    if alarm { caught += 1 }
                } else {
                    normalCount += 1
                    if alarm { normalAlarms += 1 }
                }
            }
        }
        let rate = Double(normalAlarms) / Double(normalCount)
        #expect(rate > 0.004 && rate < 0.02, "false-alarm rate \(rate)")
        #expect(Double(caught) / Double(injected) > 0.9)
    }
}
