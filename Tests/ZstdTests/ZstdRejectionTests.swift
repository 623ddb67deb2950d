import Testing
import Zstd

@Suite struct ZstdRejectionTests {
    /// 64 MiB of zeros: a few kilobytes compressed.
    static func bomb(declaringSize: Bool) throws -> [UInt8] {
        var compressor = try ZstdCompressor(level: 1, contentSize: declaringSize)
        return try compressor.compress([UInt8](repeating: 0, count: 64 << 20))
    }

    @Test("a bomb that declares its size is rejected before anything is allocated")
    func declaredBomb() throws {
        let bomb = try Self.bomb(declaringSize: true)
        #expect(bomb.count < 64 << 10)
        var decompressor = try ZstdDecompressor(maxDecompressedSize: 1 << 20)
        let error = #expect(throws: ZstdError.self) { try decompressor.decompress(bomb) }
        #expect(error?.code == .sizeLimitExceeded)
        #expect(error?.message.contains("declares 67108864") == true)
    }

    @Test("a bomb that hides its size is stopped at the cap while decoding, by every entry point")
    func undeclaredBomb() throws {
        let bomb = try Self.bomb(declaringSize: false)
        #expect(try bomb.withUnsafeBytes { try ZstdFrame.declaredContentSize($0) } == nil)
        var decompressor = try ZstdDecompressor(maxDecompressedSize: 1 << 20)
        #expect(throws: ZstdError.self) { try decompressor.decompress(bomb) }
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        let intoError = #expect(throws: ZstdError.self) {
            try bomb.withUnsafeBytes { b in
                try buffer.withUnsafeMutableBytes { try decompressor.decompress(b, into: $0) }
            }
        }
        #expect(intoError?.code == .sizeLimitExceeded)
        var stream = try ZstdStreamDecoder(maxDecompressedSize: 1 << 20)
        var delivered = 0
        let streamError = #expect(throws: StreamFailure<Never>.self) {
            try bomb.withUnsafeBytes { try stream.feed($0) { delivered += $0.count } }
        }
        if case .zstd(let e) = streamError {
            #expect(e.code == .sizeLimitExceeded)
        } else {
            Issue.record("wrong failure")
        }
        #expect(delivered <= 1 << 20)
        // The context is still usable afterwards.
        var compressor = try ZstdCompressor()
        #expect(try decompressor.decompress(compressor.compress([1, 2, 3])) == [1, 2, 3])
    }

    @Test("a flipped byte anywhere in a frame is a typed error, never a crash or wrong data")
    func corruption() throws {
        var compressor = try ZstdCompressor()
        var decompressor = try ZstdDecompressor(maxDecompressedSize: 1 << 20)
        var rng = TestRandom(seed: 3)
        let input = TestData.make(kind: 2, count: 20_000, rng: &rng)
        let frame = try compressor.compress(input)
        var rejected = 0
        for position in 0..<frame.count {
            var damaged = frame
            damaged[position] ^= 0x5A
            do {
                let output = try decompressor.decompress(damaged)
                // The only acceptable success is identical data (a flip in an unused header bit).
                #expect(output == input, "byte \(position) changed the data without detection")
            } catch {
                rejected += 1
            }
        }
        #expect(rejected >= frame.count - 4)
    }

    @Test("truncated frames are truncatedInput; non-zstd bytes are notZstd")
    func truncationAndGarbage() throws {
        var compressor = try ZstdCompressor()
        var decompressor = try ZstdDecompressor(maxDecompressedSize: 1 << 20)
        let frame = try compressor.compress([UInt8](repeating: 9, count: 5000) + [1, 2, 3])
        for cut in [0, 3, 5, frame.count / 2, frame.count - 1] {
            let error = #expect(throws: ZstdError.self) { try decompressor.decompress(Array(frame[..<cut])) }
            #expect(error?.code == .truncatedInput, "cut at \(cut)")
        }
        let garbage = #expect(throws: ZstdError.self) { try decompressor.decompress(Array("hello world".utf8)) }
        #expect(garbage?.code == .notZstd)
        var stream = try ZstdStreamDecoder(maxDecompressedSize: 1 << 20)
        try frame.withUnsafeBytes {
            try stream.feed(UnsafeRawBufferPointer(rebasing: $0[..<(frame.count - 2)])) { _ in }
        }
        let unfinished = #expect(throws: ZstdError.self) { try stream.finish() }
        #expect(unfinished?.code == .truncatedInput)
    }

    @Test("random bytes never crash any decoder entry point")
    func randomBytes() throws {
        var decompressor = try ZstdDecompressor(maxDecompressedSize: 1 << 16)
        var stream = try ZstdStreamDecoder(maxDecompressedSize: 1 << 16)
        var rng = TestRandom(seed: 2024)
        var output = [UInt8](repeating: 0, count: 1 << 16)
        for iteration in 0..<20_000 {
            var bytes = (0..<Int(rng.next() % 64)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            if iteration % 2 == 0 && bytes.count >= 4 {
                bytes.replaceSubrange(0..<4, with: [0x28, 0xB5, 0x2F, 0xFD])  // a valid magic, then junk
            }
            _ = try? decompressor.decompress(bytes)
            _ = try? bytes.withUnsafeBytes { b in
                try output.withUnsafeMutableBytes { try decompressor.decompress(b, into: $0) }
            }
            _ = try? bytes.withUnsafeBytes { try stream.feed($0) { _ in } }
            stream.reset()
        }
        var compressor = try ZstdCompressor()
        #expect(try decompressor.decompress(compressor.compress([42])) == [42])
    }

    @Test("an out-of-range level is a typed invalidParameter error")
    func badLevel() throws {
        let error = #expect(throws: ZstdError.self) { _ = try ZstdCompressor(level: 1000) }
        #expect(error?.code == .invalidParameter)
        var compressor = try? ZstdCompressor(level: 3)
        let setError = #expect(throws: ZstdError.self) { try compressor?.setLevel(Zstd.maxLevel + 1) }
        #expect(setError?.code == .invalidParameter)
        #expect(compressor?.level == 3)
    }
}
