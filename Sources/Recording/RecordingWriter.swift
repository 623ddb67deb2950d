import TributaryWire
import Zstd

/// Writes a recording append-only: a header with the streams, then chunks of frames (and label events), each
/// compressed and checksummed, then on ``close()`` a footer index for seeking by time.
///
/// Crash safety: every chunk is complete before the next begins, so a writer killed at any moment leaves a file
/// that ``RecordingReader`` reads up to its last complete chunk (it rebuilds the index by scanning when the
/// footer is missing). ``SyncPolicy`` decides how much an operating-system crash can take.
public final class RecordingWriter {
    /// When written chunks are forced to disk.
    public enum SyncPolicy: Sendable, Hashable {
        /// Leave it to the operating system.
        case never
        /// fsync after every chunk: nothing acknowledged is lost.
        case everyChunk
        /// fsync when this many chunks were written since the last sync.
        case everyChunks(Int)
    }

    /// The streams: those of the header, then those added with ``addStream(_:)``.
    public private(set) var streams: [RecordingStream]
    /// Frames per chunk.
    public let chunkFrames: Int
    /// Chunks written.
    public private(set) var chunkCount = 0
    /// Frames written (in complete chunks).
    public private(set) var framesWritten = 0
    /// Bytes written so far.
    public private(set) var bytesWritten = 0

    let file: RawFile
    let policy: SyncPolicy
    var compressor: ZstdCompressor
    var pending: [UInt16: (timestamps: [Int64], values: [Float])] = [:]
    var pendingLabels: [UInt16: [LabelEvent]] = [:]
    var index: [ChunkInfo] = []
    var unsynced = 0
    var closed = false

    /// Creates (or truncates) `path` and writes the header. `streams` may be empty when streams are only known
    /// later (see ``addStream(_:)``).
    public init(
        path: String, streams: [RecordingStream], chunkFrames: Int = 8_192, sync: SyncPolicy = .everyChunk,
        compressionLevel: Int = 12
    ) throws(RecordingError) {
        guard chunkFrames > 0, chunkFrames * (streams.map(\.channels).max() ?? 1) <= RecordingFormat.maxChunkValues
        else {
            throw RecordingError(
                .invalidArgument,
                "\(chunkFrames) frames per chunk is outside 1…\(RecordingFormat.maxChunkValues) values", path: path)
        }
        precondition(Set(streams.map(\.id)).count == streams.count, "stream ids must be unique")
        self.streams = streams
        self.chunkFrames = chunkFrames
        policy = sync
        do { compressor = try ZstdCompressor(level: compressionLevel, checksum: false) } catch {
            throw RecordingError(.invalidArgument, "\(error)", path: path)
        }
        file = try RawFile(path: path, write: true)
        var metadata = ByteWriter()
        metadata.write(UInt16(streams.count))
        for stream in streams { stream.encode(into: &metadata) }
        var header = ByteWriter()
        header.write(RecordingFormat.magic)
        header.write(RecordingFormat.version)
        header.write(bytes: [0, 0, 0])
        header.write(UInt32(metadata.count))
        header.write(bytes: metadata.bytes)
        header.appendChecksum()
        try file.write(header.bytes)
        bytesWritten = header.count
        if policy != .never { try file.sync() }
    }

    deinit {
        if !closed { try? close() }
    }

    /// Declares another stream (written at once as a stream chunk); its id must be new.
    public func addStream(_ stream: RecordingStream) throws(RecordingError) {
        guard chunkFrames * stream.channels <= RecordingFormat.maxChunkValues else {
            throw RecordingError(
                .invalidArgument, "\(chunkFrames) frames of \(stream.channels) channels is too much for one chunk",
                path: file.path)
        }
        guard !streams.contains(where: { $0.id == stream.id }) else {
            throw RecordingError(.invalidArgument, "stream id \(stream.id) is already used", path: file.path)
        }
        var payload = ByteWriter()
        stream.encode(into: &payload)
        try writeChunk(.stream, stream: stream.id, first: 0, last: 0, count: 1, payload: payload.bytes)
        streams.append(stream)
    }

    /// An unused stream id.
    public var nextStreamID: UInt16 { (streams.map(\.id).max() ?? 0) &+ (streams.isEmpty ? 0 : 1) }

    func stream(_ id: UInt16) throws(RecordingError) -> RecordingStream {
        guard let s = streams.first(where: { $0.id == id }) else {
            throw RecordingError(.invalidArgument, "no stream \(id)", path: file.path)
        }
        return s
    }

    /// Appends frames (`values` holds `timestamps.count × channels` floats); writes chunks as they fill.
    public func append(stream id: UInt16, timestamps: UnsafeBufferPointer<Int64>, values: UnsafeBufferPointer<Float>)
        throws(RecordingError)
    {
        let stream = try stream(id)
        guard values.count == timestamps.count * stream.channels else {
            throw RecordingError(
                .invalidArgument,
                "\(values.count) values for \(timestamps.count) frames of \(stream.channels) channels",
                path: file.path)
        }
        var buffer = pending[id] ?? ([], [])
        buffer.timestamps += timestamps
        buffer.values += values
        while buffer.timestamps.count >= chunkFrames {
            let ts = Array(buffer.timestamps.prefix(chunkFrames))
            let vs = Array(buffer.values.prefix(chunkFrames * stream.channels))
            buffer.timestamps.removeFirst(chunkFrames)
            buffer.values.removeFirst(chunkFrames * stream.channels)
            try writeFrames(stream, ts, vs)
        }
        pending[id] = buffer
    }

    /// Appends a label event for a stream (written with the next flush).
    public func append(label: LabelEvent, stream id: UInt16) throws(RecordingError) {
        _ = try stream(id)
        pendingLabels[id, default: []].append(label)
    }

    /// Writes everything buffered as (possibly short) chunks.
    public func flush() throws(RecordingError) {
        for stream in streams {
            if let buffer = pending[stream.id], !buffer.timestamps.isEmpty {
                try writeFrames(stream, buffer.timestamps, buffer.values)
                pending[stream.id] = ([], [])
            }
            if let labels = pendingLabels[stream.id], !labels.isEmpty {
                try writeChunk(
                    .labels, stream: stream.id, first: labels.map(\.start).min()!,
                    last: labels.map(\.end).max()!, count: labels.count, payload: ChunkCodec.encodeLabels(labels))
                pendingLabels[stream.id] = []
            }
        }
        if unsynced > 0 && policy != .never { try syncNow() }
    }

    /// Flushes, writes the footer index and syncs. Further appends are errors.
    public func close() throws(RecordingError) {
        guard !closed else { return }
        try flush()
        var footer = ByteWriter(capacity: 16 + index.count * 31)
        footer.write(RecordingFormat.indexMagic)
        footer.write(UInt32(index.count))
        for entry in index {
            footer.write(UInt64(entry.offset))
            footer.write(entry.kind.rawValue)
            footer.write(entry.stream)
            footer.write(entry.first)
            footer.write(entry.last)
            footer.write(UInt32(entry.count))
        }
        footer.appendChecksum()
        let length = footer.count
        footer.write(UInt32(length))
        footer.write(RecordingFormat.endMagic)
        try file.write(footer.bytes)
        bytesWritten += footer.count
        try file.sync()
        closed = true
    }

    func writeFrames(_ stream: RecordingStream, _ timestamps: [Int64], _ values: [Float]) throws(RecordingError) {
        let payload = ChunkCodec.encodeFrames(timestamps: timestamps, values: values, stream: stream)
        try writeChunk(
            .frames, stream: stream.id, first: timestamps.first!, last: timestamps.last!,
            count: timestamps.count, payload: payload)
        framesWritten += timestamps.count
    }

    func writeChunk(
        _ kind: RecordingFormat.ChunkKind, stream: UInt16, first: Int64, last: Int64, count: Int,
        payload: [UInt8]
    ) throws(RecordingError) {
        guard !closed else { throw RecordingError(.invalidArgument, "the recording is closed", path: file.path) }
        let compressed: [UInt8]
        do { compressed = try compressor.compress(payload) } catch {
            throw RecordingError(.io, "compression failed: \(error)", path: file.path)
        }
        var header = ByteWriter(capacity: RecordingFormat.chunkHeaderSize + compressed.count)
        header.write(RecordingFormat.chunkMagic)
        header.write(kind.rawValue)
        header.write(UInt8(0))
        header.write(stream)
        header.write(first)
        header.write(last)
        header.write(UInt32(count))
        header.write(UInt32(compressed.count))
        header.write(UInt32(payload.count))
        header.write(CRC32C.checksum(compressed))
        header.appendChecksum()
        header.write(bytes: compressed)
        index.append(
            ChunkInfo(offset: bytesWritten, kind: kind, stream: stream, first: first, last: last, count: count))
        try file.write(header.bytes)
        bytesWritten += header.count
        chunkCount += 1
        unsynced += 1
        switch policy {
        case .never: break
        case .everyChunk: try syncNow()
        case .everyChunks(let n): if unsynced >= n { try syncNow() }
        }
    }

    func syncNow() throws(RecordingError) {
        try file.sync()
        unsynced = 0
    }
}

/// Where a chunk is and what it covers.
public struct ChunkInfo: Sendable, Hashable {
    /// Byte offset of the chunk header.
    public var offset: Int
    /// Frames or labels.
    public var kind: RecordingFormat.ChunkKind
    /// Stream id.
    public var stream: UInt16
    /// First time stamp (frames) or earliest start (labels).
    public var first: Int64
    /// Last time stamp (frames) or latest end (labels).
    public var last: Int64
    /// Frames or events in the chunk.
    public var count: Int
}
