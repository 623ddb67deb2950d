import AggregatorService
import Federation
import Foundation
import Recording
import Testing

/// Central evaluation: each new model scored on a recording's windows, checked against the same windows and the
/// same sigmoid computed here by hand.
@Suite struct EvaluationTests {
    /// 400 frames of 2 channels: channel 0 is +1 in class-1 blocks of 50 frames and −1 in class-0 blocks (plus a
    /// small ramp), channel 1 is the class.
    static func writeRecording(_ path: String) throws -> (values: [Float], frames: Int) {
        let stream = RecordingStream(
            device: "eval", name: "imu", channelNames: ["x", "label"], sampleRate: 100, labelNames: [])
        let writer = try RecordingWriter(path: path, streams: [stream])
        let frames = 400
        var values: [Float] = []
        for i in 0..<frames {
            let label: Float = (i / 50) % 2 == 0 ? 1 : 0
            values += [(label == 1 ? 1 : -1) + Float(i % 7) * 0.01, label]
        }
        let timestamps = (0..<frames).map { Int64($0) * 10_000_000 }
        try timestamps.withUnsafeBufferPointer { t in
            try values.withUnsafeBufferPointer { v in try writer.append(stream: 0, timestamps: t, values: v) }
        }
        try writer.close()
        return (values, frames)
    }

    @Test("each aggregated round's metrics carry accuracy and log-loss on the recording, as computed by hand")
    func centralEvaluation() throws {
        let directory = temporaryDirectory()
        let recording = try Self.writeRecording(directory + "/eval.trec")
        var training = TaskSpec.Training()
        training.standardize = false
        let spec = TaskSpec(
            task: "t1", model: .init(head: .sigmoid, inputs: 1),
            data: .init(
                stream: "imu", channels: [0], labelChannel: 1, windowFrames: 10, hopFrames: 5, features: ["mean"]),
            training: training, codec: .init(kFraction: 1, values: "float32")
        ).sealed()
        var config = testConfig(spec, stateDir: directory + "/state", minParticipants: 1)
        config.evaluation.recording = directory + "/eval.trec"
        let core = try AggregatorCore(config: config, metrics: AggregatorMetrics(), logger: quietLogger)
        CoreTests.online(core, ["a"], now: 0)
        let started = try core.start(now: 0)
        var model = try modelParameters(started.on("tributary/v1/fl/t1/model")[0].payload).parameters
        var base = try RoundAnnouncement.decode(started.on("tributary/v1/fl/t1/round").last!.payload).modelHash.value
        for (round, target) in [(UInt32(1), [Float(4), 0]), (2, [-4, 0.5])] {
            let delta = zip(target, model).map { $0 - $1 }
            CoreTests.send(
                core, device: "a", round: round, weight: 1, update: ([0, 1], delta), base: base, now: 1, dimension: 2)
            let out = try core.commit(now: 2)
            model = try modelParameters(out.on("tributary/v1/fl/t1/model").first!.payload).parameters
            base = try RoundAnnouncement.decode(out.on("tributary/v1/fl/t1/round").first!.payload).modelHash.value
            let metrics = try RoundMetrics.decode(out.on("tributary/v1/fl/t1/metrics").first!.payload)
            let evaluation = try #require(metrics.evaluation)

            // By hand: windows of 10 frames every 5, the mean of channel 0, the label of the last frame.
            var windows = 0
            var correct = 0
            var loss = 0.0
            var start = 0
            while start + 10 <= recording.frames {
                let mean = (start..<(start + 10)).map { recording.values[2 * $0] }.reduce(0, +) / 10
                let label = Int(recording.values[2 * (start + 9) + 1])
                let p = 1 / (1 + exp(-Double(model[0] * mean + model[1])))
                correct += ((p >= 0.5 ? 1 : 0) == label) ? 1 : 0
                loss += -log(max(label == 1 ? p : 1 - p, 1e-15))
                windows += 1
                start += 5
            }
            #expect(evaluation.samples == windows)
            #expect(evaluation.accuracy == Double(correct) / Double(windows))
            #expect(
                abs(evaluation.loss - loss / Double(windows)) < 1e-3, "\(evaluation.loss) vs \(loss / Double(windows))")
        }
        #expect(core.lastMetrics?.evaluation?.accuracy ?? 1 < 0.5, "the second model predicts the classes backwards")
    }

    @Test("a recording the task cannot use stops the aggregator at start with a clear error")
    func badRecording() throws {
        let directory = temporaryDirectory()
        var config = testConfig(stateDir: directory + "/state", minParticipants: 1)
        config.evaluation.recording = directory + "/missing.trec"
        #expect {
            _ = try AggregatorCore(config: config, metrics: AggregatorMetrics(), logger: quietLogger)
        } throws: { "\($0)".contains("evaluation.recording") }
        _ = try Self.writeRecording(directory + "/eval.trec")
        config.evaluation.recording = directory + "/eval.trec"
        // testSpec() has no label channel: nothing to evaluate against.
        #expect {
            _ = try AggregatorCore(config: config, metrics: AggregatorMetrics(), logger: quietLogger)
        } throws: { "\($0)".contains("label channel") }
    }
}
