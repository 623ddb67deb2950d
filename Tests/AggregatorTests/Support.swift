import AggregatorService
import Federation
import Foundation
import Logging
import TributaryMath
import UpdateCodec

/// A small task for tests: a linear model of `inputs` parameters + 1 bias.
func testSpec(inputs: Int = 7, task: String = "t1") -> TaskSpec {
    TaskSpec(
        task: task, model: .init(head: .linear, inputs: inputs),
        data: .init(stream: "imu", channels: Array(0..<inputs), windowFrames: 10, hopFrames: 5, features: ["mean"]),
        codec: .init(kFraction: 1, values: "float32")
    ).sealed()
}

func testConfig(_ spec: TaskSpec = testSpec(), stateDir: String, minParticipants: Int = 2, duration: Double = 30)
    -> AggregatorConfig
{
    var config = AggregatorConfig(task: spec)
    // Development mode: these tests are about rounds, not keys (TrustTests and the secure fleet test are).
    config.insecure = true
    config.stateDir = stateDir
    config.http.port = 0
    config.rounds.minParticipants = minParticipants
    config.rounds.durationS = duration
    return config
}

func temporaryDirectory() -> String {
    var template = Array("/tmp/tributary-aggregator-XXXXXX".utf8CString)
    return template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)!) }
}

let quietLogger: Logger = {
    var logger = Logger(label: "test.aggregator")
    logger.logLevel = .error
    return logger
}()

/// An update message as a device sends it (float32 values, so the test can compute the exact aggregate).
func updateMessage(
    task: String = "t1", round: UInt32, device: String, weight: UInt32, indices: [UInt32], values: [Float],
    dimension: Int, base: UInt64, metrics: [UInt8: Float] = [:]
) -> [UInt8] {
    var encoder = try! UpdateEncoder(compress: true)
    let header = UpdateHeader(
        type: .update, task: task, round: round, device: device, sampleWeight: weight, dimension: dimension,
        baseModelHash: base, metrics: metrics)
    return try! encoder.encode(header, indices: indices, values: values, valueEncoding: .float32)
}

/// Decodes the model in a retained model message.
func modelParameters(_ payload: [UInt8]) throws -> (round: UInt32, parameters: [Float]) {
    var decoder = try UpdateDecoder()
    let decoded = try payload.withUnsafeBytes { try decoder.decode($0) }
    return (decoded.header.round, decoded.dense())
}

/// The project's seeded generator, with the draw these tests need.
struct TestRandom {
    var bits: SplitMix64
    init(_ seed: UInt64) { bits = SplitMix64(seed: seed) }
    mutating func next() -> UInt64 { bits.next() }
    mutating func value() -> Float { Float(Int(next() % 2_001) - 1_000) / 1_000 }
}

/// A random sparse update of `dimension` with roughly `k` entries.
func randomUpdate(_ rng: inout TestRandom, dimension: Int, k: Int) -> (indices: [UInt32], values: [Float]) {
    var chosen = Set<UInt32>()
    while chosen.count < k { chosen.insert(UInt32(rng.next() % UInt64(dimension))) }
    let indices = chosen.sorted()
    return (indices, indices.map { _ in rng.value() })
}

/// FedAvg computed directly: x + Σ wᵢ uᵢ / Σ wᵢ, dense, in Double.
func fedAvgReference(model: [Float], updates: [(weight: Double, indices: [UInt32], values: [Float])]) -> [Float] {
    var sum = [Double](repeating: 0, count: model.count)
    var total = 0.0
    for u in updates {
        total += u.weight
        for (i, index) in u.indices.enumerated() { sum[Int(index)] += u.weight * Double(u.values[i]) }
    }
    return model.indices.map { Float(Double(model[$0]) + sum[$0] / total) }
}

extension [Outgoing] {
    func on(_ topic: String) -> [Outgoing] { filter { $0.topic == topic } }
    func acks() -> [UpdateAck] { compactMap { $0.topic.contains("/ack/") ? try? UpdateAck.decode($0.payload) : nil } }
}
