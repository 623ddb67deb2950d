import Foundation
import Inspection
import SensorFrames
import StreamCore
import Testing
import TributaryWire
import UpdateCodec

@Suite struct InspectorTests {
    static func fields(_ report: PayloadInspector.Report) -> [String: String] {
        Dictionary(report.fields, uniquingKeysWith: { a, _ in a })
    }

    @Test("updates, models, sensor batches and summaries are recognised and described")
    func recognises() throws {
        var encoder = try UpdateEncoder()
        var feedback = ErrorFeedback(dimension: 10_000)
        let delta = (0..<10_000).map { Float(($0 * 7919) % 1_000) / 1_000 - 0.5 }
        let compressed = delta.withUnsafeBufferPointer { feedback.compress($0, k: 100, encoding: .int8) }
        let update = try encoder.encode(
            UpdateHeader(
                type: .update, task: "har", round: 3, device: "d1", sampleWeight: 9,
                dimension: 10_000), compressed)
        let report = try update.withUnsafeBytes { try PayloadInspector.inspect($0) }
        #expect(report.kind == "sparse update")
        let f = Self.fields(report)
        #expect(f["task"] == "har" && f["device"] == "d1" && f["dimension"] == "10000" && f["values"] == "int8")
        #expect(f["k"]?.hasPrefix("100 (1% of parameters)") == true)
        #expect(f["vs dense float32"]?.contains("40000 bytes") == true)

        let model = try encoder.encodeModel(task: "har", round: 3, parameters: [1, 2, 3])
        #expect(try model.withUnsafeBytes { try PayloadInspector.inspect($0) }.kind == "dense model")

        let batch = SensorBatch.encode(
            sequence: 5, channels: 2, values: [1, 2, 3, 4], base: 0, timing: .fixedPeriod(20_000_000))
        let batchReport = try batch.withUnsafeBytes { try PayloadInspector.inspect($0) }
        #expect(batchReport.kind == "sensor frame batch")
        #expect(Self.fields(batchReport)["timing"] == "fixed period 20000000 ns (50 Hz)")

        var summary = StreamSummary(channels: 1)
        let values: [Float] = [1, 2, 3]
        values.withUnsafeBufferPointer { summary.add($0, frames: 3) }
        let summaryReport = try summary.binary(start: 0, end: 1).withUnsafeBytes { try PayloadInspector.inspect($0) }
        #expect(summaryReport.kind == "stream summary")
        #expect(Self.fields(summaryReport)["channel 0"]?.hasPrefix("count 3 mean 2") == true)
    }

    @Test("unknown or damaged payloads give the decoder's typed reason")
    func rejects() throws {
        let unknown = #expect(throws: WireError.self) {
            try Array("hello".utf8).withUnsafeBytes { try PayloadInspector.inspect($0) }
        }
        #expect(unknown?.code == .badMagic)
        var batch = SensorBatch.encode(sequence: 5, channels: 1, values: [1], base: 0, timing: .fixedPeriod(1))
        batch[20] ^= 1
        let damaged = #expect(throws: WireError.self) { try batch.withUnsafeBytes { try PayloadInspector.inspect($0) } }
        #expect(damaged?.code == .badChecksum)
    }
}
