import TributaryWire
import Zstd

/// Reads a recording: its streams, a chunk index (from the footer, or rebuilt by scanning when the writer never
/// closed the file), frames by chunk or by time range, and label events.
public final class RecordingReader {
    /// The file.
    public let path: String
    /// The streams: those of the header, then those declared in stream chunks.
    public private(set) var streams: [RecordingStream]
    /// Every complete chunk, in file order.
    public let chunks: [ChunkInfo]
    /// True when the footer was missing or damaged and the index was rebuilt by scanning (an unclean close).
    public let recovered: Bool
    /// Bytes after the last complete chunk that were ignored (a chunk cut short by a crash).
    public let ignoredTrailingBytes: Int

    let file: RawFile
    var decompressor: ZstdDecompressor

    /// Opens and indexes `path`.
    public init(path: String) throws(RecordingError) {
        self.path = path
        file = try RawFile(path: path, write: false)
        do { decompressor = try ZstdDecompressor(maxDecompressedSize: RecordingFormat.maxChunkBytes) } catch {
            throw RecordingError(.io, "\(error)", path: path)
        }
        let size = file.size
        let start = try file.read(at: 0, count: 12)
        guard start.count == 12 else {
            throw RecordingError(.notARecording, "file is too short to be a recording", path: path)
        }
        let parsed = start.withUnsafeBytes { bytes -> (UInt8, Int)? in
            var r = ByteReader(bytes)
            guard (try? r.read(UInt32.self)) == RecordingFormat.magic, let version = try? r.read(UInt8.self),
                (try? r.skip(3)) != nil, let length = try? r.read(UInt32.self)
            else { return nil }
            return (version, Int(length))
        }
        guard let (version, metadataLength) = parsed else {
            throw RecordingError(.notARecording, "not a Tributary recording (no TREC magic)", path: path)
        }
        guard version == RecordingFormat.version else {
            throw RecordingError(.unsupportedVersion, "recording format version \(version)", path: path)
        }
        guard metadataLength < 16 << 20, 12 + metadataLength + 4 <= size else {
            throw RecordingError(.corrupt, "header declares \(metadataLength) bytes of metadata", path: path)
        }
        let headerBytes = try file.read(at: 0, count: 12 + metadataLength + 4)
        let parsedStreams = headerBytes.withUnsafeBytes { all in
            Result { () throws(WireError) -> [RecordingStream] in
                let body = try CRC32C.checkedBody(all, "header")
                var m = ByteReader(UnsafeRawBufferPointer(rebasing: body[12...]))
                let count = Int(try m.read(UInt16.self, "stream count"))
                var found: [RecordingStream] = []
                for _ in 0..<count { found.append(try RecordingStream(from: &m)) }
                try m.expectEnd("recording header")
                return found
            }
        }
        switch parsedStreams {
        case .success(let found): streams = found
        case .failure(let error): throw RecordingError(.corrupt, "damaged header", path: path, wire: error)
        }
        let dataStart = headerBytes.count
        if let index = try Self.footerIndex(file, size: size, dataStart: dataStart) {
            chunks = index.chunks
            recovered = false
            ignoredTrailingBytes = 0
        } else {
            let scan = try Self.scan(file, size: size, dataStart: dataStart)
            chunks = scan.chunks
            recovered = true
            ignoredTrailingBytes = size - scan.end
        }
        for chunk in chunks where chunk.kind == .stream {
            let bytes = try payload(chunk)
            let decoded = bytes.withUnsafeBytes { all in
                Result { () throws(WireError) -> RecordingStream in
                    var r = ByteReader(all)
                    let stream = try RecordingStream(from: &r)
                    try r.expectEnd("stream chunk")
                    return stream
                }
            }
            switch decoded {
            case .success(let stream):
                guard stream.id == chunk.stream, !streams.contains(where: { $0.id == stream.id }) else {
                    throw RecordingError(
                        .corrupt, "stream chunk at \(chunk.offset) repeats stream id \(stream.id)",
                        path: path)
                }
                streams.append(stream)
            case .failure(let error):
                throw RecordingError(
                    .corrupt, "stream chunk at \(chunk.offset) does not decode", path: path, wire: error)
            }
        }
    }

    /// The footer's index, or nil if the file does not end with a valid footer.
    static func footerIndex(_ file: RawFile, size: Int, dataStart: Int) throws(RecordingError)
        -> (chunks: [ChunkInfo], Void)?
    {
        guard size >= dataStart + 8 else { return nil }
        let tail = try file.read(at: size - 8, count: 8)
        let length = Int(UInt32(littleEndian: tail.withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) }))
        let end = UInt32(littleEndian: tail.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 4, as: UInt32.self) })
        guard end == RecordingFormat.endMagic, length >= 12, size - 8 - length >= dataStart else { return nil }
        let footer = try file.read(at: size - 8 - length, count: length)
        return footer.withUnsafeBytes { all -> ([ChunkInfo], Void)? in
            guard let body = try? CRC32C.checkedBody(all, "index") else { return nil }
            var r = ByteReader(body)
            guard (try? r.read(UInt32.self)) == RecordingFormat.indexMagic, let count = try? r.read(UInt32.self) else {
                return nil
            }
            var chunks: [ChunkInfo] = []
            for _ in 0..<count {
                guard let offset = try? r.read(UInt64.self), let kindCode = try? r.read(UInt8.self),
                    let kind = RecordingFormat.ChunkKind(rawValue: kindCode), let stream = try? r.read(UInt16.self),
                    let first = try? r.read(Int64.self), let last = try? r.read(Int64.self),
                    let n = try? r.read(UInt32.self), Int(offset) < size
                else { return nil }
                chunks.append(
                    ChunkInfo(
                        offset: Int(offset), kind: kind, stream: stream, first: first, last: last,
                        count: Int(n)))
            }
            return (chunks, ())
        }
    }

    /// Walks chunk headers from the start, keeping every chunk whose header and payload check out, and stopping
    /// at the first that does not (a chunk cut short by a crash).
    static func scan(_ file: RawFile, size: Int, dataStart: Int) throws(RecordingError) -> (
        chunks: [ChunkInfo], end: Int
    ) {
        var offset = dataStart
        var chunks: [ChunkInfo] = []
        while offset + RecordingFormat.chunkHeaderSize <= size {
            let headerBytes = try file.read(at: offset, count: RecordingFormat.chunkHeaderSize)
            guard let (info, compressedLength, crc) = parseChunkHeader(headerBytes, offset: offset),
                offset + RecordingFormat.chunkHeaderSize + compressedLength <= size
            else { break }
            let payload = try file.read(at: offset + RecordingFormat.chunkHeaderSize, count: compressedLength)
            guard CRC32C.checksum(payload) == crc else { break }
            chunks.append(info)
            offset += RecordingFormat.chunkHeaderSize + compressedLength
        }
        return (chunks, offset)
    }

    static func parseChunkHeader(_ bytes: [UInt8], offset: Int) -> (ChunkInfo, Int, UInt32)? {
        guard bytes.count == RecordingFormat.chunkHeaderSize else { return nil }
        return bytes.withUnsafeBytes { all -> (ChunkInfo, Int, UInt32)? in
            let body = UnsafeRawBufferPointer(rebasing: all[..<40])
            guard CRC32C.checksum(body) == UInt32(littleEndian: all.loadUnaligned(fromByteOffset: 40, as: UInt32.self))
            else { return nil }
            var r = ByteReader(body)
            guard (try? r.read(UInt32.self)) == RecordingFormat.chunkMagic,
                let kindCode = try? r.read(UInt8.self), let kind = RecordingFormat.ChunkKind(rawValue: kindCode),
                (try? r.read(UInt8.self)) != nil, let stream = try? r.read(UInt16.self),
                let first = try? r.read(Int64.self), let last = try? r.read(Int64.self),
                let count = try? r.read(UInt32.self), let compressed = try? r.read(UInt32.self),
                (try? r.read(UInt32.self)) != nil, let crc = try? r.read(UInt32.self)
            else { return nil }
            return (
                ChunkInfo(offset: offset, kind: kind, stream: stream, first: first, last: last, count: Int(count)),
                Int(compressed), crc
            )
        }
    }

    /// The stream with `id`.
    public func stream(_ id: UInt16) throws(RecordingError) -> RecordingStream {
        guard let s = streams.first(where: { $0.id == id }) else {
            throw RecordingError(.invalidArgument, "no stream \(id) in this recording", path: path)
        }
        return s
    }

    /// The decompressed payload of a chunk, checked.
    func payload(_ chunk: ChunkInfo) throws(RecordingError) -> [UInt8] {
        let header = try file.read(at: chunk.offset, count: RecordingFormat.chunkHeaderSize)
        guard let (_, compressedLength, crc) = Self.parseChunkHeader(header, offset: chunk.offset) else {
            throw RecordingError(.corrupt, "chunk at \(chunk.offset) has a damaged header", path: path)
        }
        let raw = header.withUnsafeBytes {
            Int(UInt32(littleEndian: $0.loadUnaligned(fromByteOffset: 32, as: UInt32.self)))
        }
        let compressed = try file.read(at: chunk.offset + RecordingFormat.chunkHeaderSize, count: compressedLength)
        guard compressed.count == compressedLength, CRC32C.checksum(compressed) == crc else {
            throw RecordingError(.corrupt, "chunk at \(chunk.offset) fails its checksum", path: path)
        }
        do {
            let out = try decompressor.decompress(compressed)
            guard out.count == raw else {
                throw RecordingError(
                    .corrupt, "chunk at \(chunk.offset) decompressed to \(out.count) bytes, expected \(raw)", path: path
                )
            }
            return out
        } catch let error as RecordingError {
            throw error
        } catch {
            throw RecordingError(.corrupt, "chunk at \(chunk.offset): \(error)", path: path)
        }
    }

    /// The frames of one chunk.
    public func frames(_ chunk: ChunkInfo) throws(RecordingError) -> (timestamps: [Int64], values: [Float]) {
        guard chunk.kind == .frames else { throw RecordingError(.invalidArgument, "not a frame chunk", path: path) }
        let stream = try stream(chunk.stream)
        let bytes = try payload(chunk)
        let decoded = bytes.withUnsafeBytes { all in
            Result { () throws(WireError) in try ChunkCodec.decodeFrames(all, count: chunk.count, stream: stream) }
        }
        switch decoded {
        case .success(let frames): return frames
        case .failure(let error):
            throw RecordingError(.corrupt, "chunk at \(chunk.offset) does not decode", path: path, wire: error)
        }
    }

    /// Frame chunks of `stream` that overlap [from, to], found by binary search over the index.
    public func frameChunks(stream: UInt16, from: Int64 = .min, to: Int64 = .max) -> [ChunkInfo] {
        let candidates = chunks.filter { $0.kind == .frames && $0.stream == stream }
        var low = 0
        var high = candidates.count
        while low < high {
            let mid = (low + high) / 2
            if candidates[mid].last < from { low = mid + 1 } else { high = mid }
        }
        return Array(candidates[low...].prefix { $0.first <= to })
    }

    /// Frames of `stream` with time stamps in [from, to].
    public func frames(stream: UInt16, from: Int64 = .min, to: Int64 = .max) throws(RecordingError)
        -> (timestamps: [Int64], values: [Float])
    {
        let channels = try self.stream(stream).channels
        var timestamps: [Int64] = []
        var values: [Float] = []
        for chunk in frameChunks(stream: stream, from: from, to: to) {
            let (ts, vs) = try frames(chunk)
            for i in ts.indices where ts[i] >= from && ts[i] <= to {
                timestamps.append(ts[i])
                values += vs[(i * channels)..<((i + 1) * channels)]
            }
        }
        return (timestamps, values)
    }

    /// All label events of `stream`.
    public func labels(stream id: UInt16) throws(RecordingError) -> [LabelEvent] {
        let stream = try stream(id)
        var events: [LabelEvent] = []
        for chunk in chunks where chunk.kind == .labels && chunk.stream == id {
            let bytes = try payload(chunk)
            let decoded = bytes.withUnsafeBytes { all in
                Result { () throws(WireError) in
                    try ChunkCodec.decodeLabels(all, count: chunk.count, labelCount: stream.labelNames.count)
                }
            }
            switch decoded {
            case .success(let more): events += more
            case .failure(let error):
                throw RecordingError(
                    .corrupt, "label chunk at \(chunk.offset) does not decode", path: path, wire: error)
            }
        }
        return events
    }

    /// Frames stored for `stream`.
    public func frameCount(stream: UInt16) -> Int {
        chunks.filter { $0.kind == .frames && $0.stream == stream }.reduce(0) { $0 + $1.count }
    }

    /// First and last time stamp of `stream`.
    public func timeRange(stream: UInt16) -> ClosedRange<Int64>? {
        let frames = chunks.filter { $0.kind == .frames && $0.stream == stream }
        guard let first = frames.map(\.first).min(), let last = frames.map(\.last).max() else { return nil }
        return first...last
    }
}
