import Glibc
import Testing
import TributaryWire

@testable import Recording

@Suite struct RecordingDamageTests {
    /// Writes `frames` frames in chunks of `chunk`; returns the values and where the last chunk ends.
    @discardableResult
    static func write(_ path: String, frames: Int = 400, chunk: Int = 100) throws -> (values: [Float], dataEnd: Int) {
        let writer = try RecordingWriter(
            path: path, streams: [RecordingRoundTripTests.imu()], chunkFrames: chunk, sync: .everyChunk)
        let values = sampleValues(frames: frames, channels: 6, seed: 8, awkward: false)
        try append(writer, stream: 0, (0..<frames).map { Int64($0) * 1_000 }, values)
        try writer.flush()
        let dataEnd = writer.bytesWritten
        try writer.close()
        return (values, dataEnd)
    }

    @Test("a file cut at any byte reads up to its last complete chunk, with the index rebuilt by scanning")
    func truncatedAnywhere() throws {
        let path = temporaryPath("cut.trec")
        let (values, dataEnd) = try Self.write(path)
        let whole = try RecordingReader(path: path)
        let ends = whole.chunks.dropFirst().map(\.offset) + [dataEnd]  // where each chunk ends
        let headerEnd = whole.chunks[0].offset
        let original = fileSize(path)
        // Every cut inside the last chunk and the footer, and a stride through the rest.
        var cuts = Array(stride(from: headerEnd, to: ends[2], by: 37)) + Array(ends[2]..<original)
        cuts.append(headerEnd)
        for size in cuts.sorted(by: >) {
            truncateFile(path, to: size)
            let reader = try RecordingReader(path: path)
            #expect(reader.recovered == (size < original))
            #expect(reader.chunks.count == ends.filter { $0 <= size }.count, "cut at \(size)")
            let frames = try reader.frames(stream: 0)
            expectSameBits(frames.values, Array(values.prefix(reader.chunks.count * 600)))
        }
    }

    @Test("bad files give typed errors that say what is wrong")
    func badFiles() throws {
        #expect { try RecordingReader(path: "/nonexistent/x.trec") } throws: {
            ($0 as? RecordingError)?.kind == .cannotOpen
        }

        let notRecording = temporaryPath("text.trec")
        let fd = Glibc.open(notRecording, O_WRONLY | O_CREAT, 0o644)
        _ = "time,a,b\n0,1,2\n".withCString { Glibc.write(fd, $0, 15) }
        Glibc.close(fd)
        #expect { try RecordingReader(path: notRecording) } throws: { ($0 as? RecordingError)?.kind == .notARecording }

        let path = temporaryPath("bad.trec")
        try Self.write(path)
        corrupt(path, at: 4)  // version byte
        #expect { try RecordingReader(path: path) } throws: { ($0 as? RecordingError)?.kind == .unsupportedVersion }

        try Self.write(path)
        corrupt(path, at: 20)  // inside the stream metadata
        #expect { try RecordingReader(path: path) } throws: { error in
            guard let error = error as? RecordingError else { return false }
            return error.kind == .corrupt && error.wire?.code == .badChecksum
        }

        // A damaged chunk inside an intact index: opening works, reading that chunk is a clear error.
        try Self.write(path)
        let chunk = try RecordingReader(path: path).chunks[1]
        corrupt(path, at: chunk.offset + RecordingFormat.chunkHeaderSize + 10)
        let reader = try RecordingReader(path: path)
        #expect(!reader.recovered)
        #expect(try reader.frames(reader.chunks[0]).timestamps.count == 100)
        #expect { try reader.frames(reader.chunks[1]) } throws: { ($0 as? RecordingError)?.kind == .corrupt }

        // A damaged footer: the index is rebuilt by scanning and every chunk is still there.
        try Self.write(path)
        corrupt(path, at: fileSize(path) - 12)
        let rescanned = try RecordingReader(path: path)
        #expect(rescanned.recovered)
        #expect(rescanned.chunks.count == 4)
    }

    @Test("random damage never crashes the reader: every read either succeeds or throws a RecordingError")
    func randomDamage() throws {
        let path = temporaryPath("fuzz.trec")
        var rng = TestRandom(9)
        var outcomes = (opened: 0, refused: 0, chunkErrors: 0)
        for round in 0..<300 {
            try Self.write(path, frames: 120, chunk: 40)
            let size = fileSize(path)
            for _ in 0..<(1 + Int(rng.next() % 4)) { corrupt(path, at: Int(rng.next() % UInt64(size))) }
            if round % 3 == 0 { truncateFile(path, to: Int(rng.next() % UInt64(size))) }
            do {
                let reader = try RecordingReader(path: path)
                outcomes.opened += 1
                for chunk in reader.chunks where chunk.kind == .frames {
                    do { _ = try reader.frames(chunk) } catch { outcomes.chunkErrors += 1 }
                }
            } catch {
                outcomes.refused += 1
            }
        }
        #expect(outcomes.opened > 0 && outcomes.refused > 0)
    }

    @Test("decoders refuse counts the payload cannot hold, before allocating for them")
    func forgedCounts() throws {
        let stream = RecordingRoundTripTests.imu()
        let payload = ChunkCodec.encodeFrames(
            timestamps: [1, 2, 3], values: [Float](repeating: 1, count: 18), stream: stream)
        let result = payload.withUnsafeBytes { bytes in
            Result { () throws(WireError) in try ChunkCodec.decodeFrames(bytes, count: 4_000_000_000, stream: stream) }
        }
        guard case .failure(let error) = result else {
            Issue.record("a forged frame count was accepted")
            return
        }
        #expect(error.code == .countOutOfRange)
        let decoded = payload.withUnsafeBytes { bytes in
            Result { () throws(WireError) in try ChunkCodec.decodeFrames(bytes, count: 3, stream: stream) }
        }
        #expect((try? decoded.get())?.timestamps == [1, 2, 3])
    }
}
