import Foundation
import Testing
import TributaryWire
import UpdateCodec

/// The committed test vectors in Fixtures/: each `.bin` must decode to its `.json` description, and encoding the
/// described content must give the same bytes (so the format cannot drift without the vectors changing).
/// `TRIBUTARY_WRITE_FIXTURES=1 swift test --filter FixtureTests` rewrites them after a deliberate format change.
@Suite struct FixtureTests {
    struct Vector: Codable, Equatable {
        var name: String
        var type: String
        var task: String
        var round: UInt32
        var device: String
        var sampleWeight: UInt32
        var dimension: Int
        var k: Int
        var valueEncoding: String
        var indexEncoding: String
        var compressed: Bool
        var baseModelHash: String
        var indices: [UInt32]
        var values: [Float]
    }

    static var directory: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")
    }

    static func vectors() throws -> [(Vector, [UInt8])] {
        var encoderZ = try UpdateEncoder(level: 3)
        var encoderPlain = try UpdateEncoder(compress: false)
        var result: [(Vector, [UInt8])] = []
        func add(
            _ name: String, _ header: UpdateHeader, _ indices: [UInt32], _ values: [Float], _ encoding: ValueEncoding,
            compress: Bool
        ) throws {
            let bytes =
                compress
                ? try encoderZ.encode(header, indices: indices, values: values, valueEncoding: encoding)
                : try encoderPlain.encode(header, indices: indices, values: values, valueEncoding: encoding)
            var decoder = try UpdateDecoder()
            let decoded = try bytes.withUnsafeBytes { try decoder.decode($0) }
            let h = decoded.header
            result.append(
                (
                    Vector(
                        name: name, type: "\(h.type)", task: h.task, round: h.round, device: h.device,
                        sampleWeight: h.sampleWeight, dimension: h.dimension, k: h.k,
                        valueEncoding: "\(h.valueEncoding)",
                        indexEncoding: "\(h.indexEncoding)", compressed: h.compressed,
                        baseModelHash: String(h.baseModelHash, radix: 16), indices: decoded.indices,
                        values: decoded.values), bytes
                ))
        }
        let update = UpdateHeader(
            type: .update, task: "har-softmax", round: 12, device: "imu-0007", sampleWeight: 350,
            dimension: 2_000, baseModelHash: 0x0123_4567_89AB_CDEF)
        let indices: [UInt32] = [0, 1, 2, 17, 300, 301, 999, 1_500, 1_999]
        let values: [Float] = [0.5, -0.25, 1.5, -2, 0.125, 3, -0.75, 0.0625, -1]
        try add("update-float32-varint-plain", update, indices, values, .float32, compress: false)
        try add("update-float16-varint-zstd", update, indices, values, .float16, compress: true)
        try add("update-int8-varint-plain", update, indices, values, .int8, compress: false)
        try add("update-ternary-varint-plain", update, indices, values, .ternary, compress: false)
        let many = (0..<700).map { UInt32($0 * 2 + 1) }
        try add(
            "update-int8-bitmap-zstd",
            UpdateHeader(
                type: .update, task: "t", round: 1, device: "d",
                sampleWeight: 1, dimension: 1_500),
            many, many.map { Float(Int($0 % 13) - 6) / 4 }, .int8, compress: true)
        let model = (0..<64).map { Float($0) / 8 - 4 }
        try add(
            "model-float32-dense-plain",
            UpdateHeader(
                type: .denseModel, task: "har-softmax", round: 12,
                dimension: 64, baseModelHash: ModelHash.of(model)),
            (0..<64).map { UInt32($0) }, model, .float32, compress: false)
        return result
    }

    @Test("each committed vector decodes to its description and re-encodes to the same bytes")
    func vectors() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let write = ProcessInfo.processInfo.environment["TRIBUTARY_WRITE_FIXTURES"] != nil
        let vectors = try Self.vectors()
        #expect(vectors.count == 6)
        for (vector, bytes) in vectors {
            let bin = Self.directory.appendingPathComponent(vector.name + ".bin")
            let json = Self.directory.appendingPathComponent(vector.name + ".json")
            if write {
                try Data(bytes).write(to: bin)
                try encoder.encode(vector).write(to: json)
            }
            let committed = try [UInt8](Data(contentsOf: bin))
            #expect(committed == bytes, "\(vector.name): encoder output differs from the committed vector")
            let described = try JSONDecoder().decode(Vector.self, from: Data(contentsOf: json))
            var decoder = try UpdateDecoder()
            let decoded = try committed.withUnsafeBytes { try decoder.decode($0) }
            #expect(decoded.indices == described.indices && decoded.values == described.values, "\(vector.name)")
            #expect(decoded.header.dimension == described.dimension && decoded.header.k == described.k)
            #expect("\(decoded.header.indexEncoding)" == described.indexEncoding)
            #expect(String(decoded.header.baseModelHash, radix: 16) == described.baseModelHash)
        }
    }
}
