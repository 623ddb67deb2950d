import Testing
import Zstd

@Suite struct ZstdRoundTripTests {
    @Test(
        "compress → decompress is the identity for many sizes, levels and contents, with reused contexts",
        arguments: [1, 3, 9, 19, -5])
    func roundTrip(level: Int) throws {
        var compressor = try ZstdCompressor(level: level)
        var decompressor = try ZstdDecompressor(maxDecompressedSize: 1 << 20)
        var rng = TestRandom(seed: UInt64(bitPattern: Int64(level)) &+ 11)
        for size in [0, 1, 2, 17, 255, 4096, 65_537, 300_000] {
            for kind in 0..<3 {
                let input = TestData.make(kind: kind, count: size, rng: &rng)
                let frame = try compressor.compress(input)
                #expect(try ZstdFrame.declaredContentSize(frame) == UInt64(size))
                #expect(try decompressor.decompress(frame) == input)
            }
        }
        #expect(compressor.level == level)
    }

    @Test("repetitive sensor-like data compresses, random data does not grow past the bound")
    func ratios() throws {
        var compressor = try ZstdCompressor()
        var rng = TestRandom(seed: 5)
        let smooth = TestData.make(kind: 1, count: 100_000, rng: &rng)
        let noise = TestData.make(kind: 0, count: 100_000, rng: &rng)
        #expect(try compressor.compress(smooth).count < smooth.count / 4)
        #expect(try compressor.compress(noise).count <= Zstd.compressBound(noise.count))
    }

    @Test("decompressing into a caller's buffer writes exactly the content and does not allocate a result")
    func intoBuffer() throws {
        var compressor = try ZstdCompressor()
        var decompressor = try ZstdDecompressor(maxDecompressedSize: 1 << 16)
        let input = [UInt8](repeating: 7, count: 10_000) + Array(0..<200).map(UInt8.init)
        let frame = try compressor.compress(input)
        var output = [UInt8](repeating: 0, count: 16_384)
        let written = try frame.withUnsafeBytes { f in
            try output.withUnsafeMutableBytes { try decompressor.decompress(f, into: $0) }
        }
        #expect(written == input.count)
        #expect(Array(output[..<written]) == input)
    }

    @Test("concatenated frames decode to the concatenation")
    func multipleFrames() throws {
        var compressor = try ZstdCompressor()
        var decompressor = try ZstdDecompressor(maxDecompressedSize: 1 << 16)
        let a = Array("first frame ".utf8)
        let b = Array("second frame".utf8)
        let joined = try compressor.compress(a) + compressor.compress(b)
        #expect(try decompressor.decompress(joined) == a + b)
    }

    @Test("the stream decoder gives the same bytes whatever the chunking")
    func streaming() throws {
        var compressor = try ZstdCompressor()
        var rng = TestRandom(seed: 99)
        let input = TestData.make(kind: 2, count: 500_000, rng: &rng)
        let frame = try compressor.compress(input)
        var decoder = try ZstdStreamDecoder(maxDecompressedSize: 1 << 20)
        for chunkSize in [1, 7, 1000, 65_536, frame.count] {
            var output: [UInt8] = []
            var offset = 0
            try frame.withUnsafeBytes { all in
                while offset < all.count {
                    let end = min(all.count, offset + chunkSize)
                    try decoder.feed(UnsafeRawBufferPointer(rebasing: all[offset..<end])) {
                        output.append(contentsOf: $0)
                    }
                    offset = end
                }
            }
            #expect(decoder.totalOutput == input.count)
            try decoder.finish()
            #expect(output == input)
        }
    }
}
