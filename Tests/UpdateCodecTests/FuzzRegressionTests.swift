import Testing
import TributaryWire
import UpdateCodec

/// Inputs the fuzzers (tools/fuzz) found, kept as regression tests (also in tools/fuzz/crashes/).
@Suite struct FuzzRegressionTests {
    static func bytes(_ hex: String) -> [UInt8] {
        var result: [UInt8] = []
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 2)
            result.append(UInt8(hex[index..<next], radix: 16)!)
            index = next
        }
        return result
    }

    @Test("an int8 update whose scale × 127 overflows to infinity is rejected as non-finite")
    func int8Infinity() {
        let input = Self.bytes(
            "5455504401200002020174010000000001000000010000000100000000000000000000000500000005000000e6b1617f7f55330559"
        )
        #expect(RejectionTests.reason(input) == .nonFinite)
    }

    @Test("a 10-byte varint index gap (legal LEB128 for a u64) is read, not refused")
    func tenByteVarint() throws {
        let input = Self.bytes(
            "54555044012000000001740100000000010000000a00000002000000000000000000000013000000130000008080808080808080"
                + "8000030000803f00000040b8fe66ad")
        var decoder = try UpdateDecoder(maxDimension: 1 << 20)
        let update = try input.withUnsafeBytes { try decoder.decode($0) }
        #expect(update.indices == [0, 4])
        #expect(update.values == [1, 2])
        // A tenth byte above 1 would overflow 64 bits: malformed.
        let gap = input.indices.first { input[$0..<($0 + 9)].allSatisfy { $0 == 0x80 } }!
        var overlong = input
        overlong[gap + 9] = 0x02
        #expect(RejectionTests.reason(RejectionTests.resealed(overlong)) == .malformed)
    }
}
