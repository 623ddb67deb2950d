import Foundation
import SensorFrames
import StreamCore
import Testing

/// The committed test vectors (written by an independent Python encoder from the spec in docs/wire-format.md)
/// must decode to their documented fields, and our encoder must reproduce them byte for byte.
@Suite struct SensorBatchVectorTests {
    struct Vector: Decodable {
        var sequence: UInt32
        var channels: Int
        var frames: Int
        var base: Int64
        var period: UInt32?
        var format: String
        var scales: [Float]?
        var timestamps: [Int64]
        var values: [Float]
        var hex: String
    }

    static func load(_ name: String) throws -> (Vector, [UInt8]) {
        let json = try #require(Bundle.module.url(forResource: name, withExtension: "json", subdirectory: "Fixtures"))
        let bin = try #require(Bundle.module.url(forResource: name, withExtension: "bin", subdirectory: "Fixtures"))
        return (try JSONDecoder().decode(Vector.self, from: Data(contentsOf: json)), [UInt8](try Data(contentsOf: bin)))
    }

    @Test(
        "each test vector decodes to its documented fields and re-encodes to the same bytes",
        arguments: ["sensor-batch-float32-deltas", "sensor-batch-int16-fixed"])
    func vector(name: String) throws {
        let (vector, bytes) = try Self.load(name)
        let decoded = try bytes.withUnsafeBytes { try SensorBatch.decode($0) }
        #expect(decoded.header.sequence == vector.sequence)
        #expect(decoded.header.channels == vector.channels)
        #expect(decoded.header.frames == vector.frames)
        #expect(decoded.header.base == vector.base)
        #expect(decoded.header.period == vector.period)
        #expect(decoded.timestamps == vector.timestamps)
        #expect(decoded.values == vector.values)
        let format: SensorBatch.SampleFormat = vector.format == "int16" ? .int16(scales: vector.scales!) : .float32
        let timing: SensorBatch.Timing = vector.period.map { .fixedPeriod($0) } ?? .timestamps(vector.timestamps)
        let encoded = SensorBatch.encode(
            sequence: vector.sequence, channels: vector.channels, values: vector.values,
            base: vector.base, timing: timing, format: format)
        #expect(encoded == bytes)
        #expect(encoded.map { String(format: "%02x", $0) }.joined() == vector.hex)
    }
}
