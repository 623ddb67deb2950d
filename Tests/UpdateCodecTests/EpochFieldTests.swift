import Testing
import TributaryWire

@testable import UpdateCodec

/// The federation epoch of models and deltas: flag bit 3 and 8 bytes after the body.
@Suite struct EpochFieldTests {
    @Test("a model and a delta carry their epoch through the codec; without one, none is read")
    func roundTrip() throws {
        var encoder = try UpdateEncoder()
        var decoder = try UpdateDecoder()
        let parameters: [Float] = [0.5, -1, 2, 0.25]
        let epoch: UInt64 = 0xFEDC_BA98_7654_3210
        let model = try encoder.encodeModel(task: "t", round: 3, parameters: parameters, epoch: epoch)
        #expect(model[UpdateFormat.flagsOffset] & 8 != 0)
        let decoded = try model.withUnsafeBytes { try decoder.decode($0) }
        #expect(decoded.header.epoch == epoch && decoded.dense() == parameters)
        let plain = try encoder.encodeModel(task: "t", round: 3, parameters: parameters)
        #expect(plain.count == model.count - 8)
        #expect(try plain.withUnsafeBytes { try decoder.decode($0) }.header.epoch == nil)
        var stream = ModelDeltaStream(initial: parameters)
        let delta = try stream.next(
            model: [1, -1, 2, 0.25], task: "t", round: 4, k: 1, encoding: .float32, encoder: &encoder, epoch: 7)
        #expect(try delta.withUnsafeBytes { try decoder.decode($0) }.header.epoch == 7)
    }

    @Test("flag bit 4 is reserved, and an epoch cut short is refused")
    func rejections() throws {
        var encoder = try UpdateEncoder(compress: false)
        var decoder = try UpdateDecoder()
        let model = try encoder.encodeModel(task: "t", round: 1, parameters: [1, 2], epoch: 9)
        var reserved = Array(model.dropLast(4))
        reserved[UpdateFormat.flagsOffset] |= 16
        var writer = ByteWriter(capacity: reserved.count + 4)
        writer.write(bytes: reserved)
        writer.appendChecksum()
        #expect(throws: WireError.self) { try writer.bytes.withUnsafeBytes { try decoder.decode($0) } }
        // Flag bit 3 set on a message without the 8 bytes: the reader runs out.
        var cut = Array(try encoder.encodeModel(task: "t", round: 1, parameters: [1, 2]).dropLast(4))
        cut[UpdateFormat.flagsOffset] |= 8
        var short = ByteWriter(capacity: cut.count + 4)
        short.write(bytes: cut)
        short.appendChecksum()
        #expect { try short.bytes.withUnsafeBytes { try decoder.decode($0) } } throws: { error in
            (error as? WireError)?.code == .truncated
        }
    }
}
