import CSVCodec
public import Logging
public import MQTT
public import Recording
public import SensorFrames
import Synchronization
import TributaryWire

/// Where `record` writes.
public enum RecordTarget: Sendable, Hashable {
    /// One file per device and stream in this directory (`{device}.{stream}.trec`).
    case directory(String)
    /// Every stream into one file.
    case file(String)
}

/// Options of a recorder.
public struct RecordOptions: Sendable {
    /// Topic prefix (the sensor topics are `{prefix}/dev/{device}/sensor/{stream}`).
    public var prefix = "tributary/v1"
    /// Devices to record (nil: every device, `+`).
    public var devices: [String]?
    /// Streams to record (nil: every stream, `+`).
    public var streams: [String]?
    /// Channel names to store (nil, or a count that does not match: c0, c1, …). A channel named `label` is
    /// the label channel.
    public var channelNames: [String]?
    /// Names of the label channel's ids.
    public var labelNames: [String] = []
    /// Frames per chunk.
    public var chunkFrames = 8_192
    /// When chunks are forced to disk.
    public var sync = RecordingWriter.SyncPolicy.everyChunk
    /// zstd level.
    public var compressionLevel = 6
    /// Largest sensor message accepted.
    public var maxPayload = 1 << 20

    /// Creates options.
    public init() {}

    /// The topic filters to subscribe to.
    public var filters: [String] {
        var result: [String] = []
        for device in devices ?? ["+"] {
            for stream in streams ?? ["+"] { result.append("\(prefix)/dev/\(device)/sensor/\(stream)") }
        }
        return result
    }
}

/// Counters of a recording session.
public struct RecordStats: Sendable, Hashable {
    /// Batches written.
    public var batches = 0
    /// Frames written.
    public var frames = 0
    /// Streams seen.
    public var streams = 0
    /// Batches rejected as invalid (bad payload, wrong topic), each logged with its reason.
    public var rejected = 0
    /// Duplicate batches dropped (a QoS 1 redelivery).
    public var duplicates = 0
    /// Batches that arrived after newer ones and were dropped to keep time order.
    public var late = 0
    /// Batches a sender skipped (sequence gaps).
    public var missing = 0
    /// Errors writing files (the message is logged; recording continues with other streams).
    public var writeErrors = 0
    /// Every stream's ingest counters together (the same counters the agent reports), rejections by reason.
    public var ingest = IngestSnapshot()
}

/// Writes sensor batches arriving over MQTT into recordings. Messages are handled on the client's network
/// thread (the hot path): decoded, checked and appended to the stream's writer, which writes a chunk (and syncs,
/// per the policy) when it fills. Call ``flush()`` periodically to bound what a crash can lose, and ``finish()``
/// to close the files.
public final class Recorder: Sendable {
    struct Key: Hashable {
        var device: String
        var stream: String
    }

    struct Track {
        var file: String
        var streamID: UInt16
        var channels: Int
        var format: SensorBatch.SampleFormat
        /// The stream's sequence checks and counters.
        var screen = BatchScreen()
    }

    struct State: ~Copyable {
        var writers: [String: RecordingWriter] = [:]
        var tracks: [Key: [Track]] = [:]
        var stats = RecordStats()
        var closed = false
        /// Batches that could not be read (their stream is not known), counted by reason.
        let unreadable = BatchScreen()
    }

    let options: RecordOptions
    let target: RecordTarget
    let logger: Logger
    let state = Mutex(State())

    /// Creates a recorder. Files are created when their first batch arrives.
    public init(target: RecordTarget, options: RecordOptions, logger: Logger) {
        self.target = target
        self.options = options
        self.logger = logger
    }

    /// Counters so far.
    public var stats: RecordStats { state.withLock { Self.stats(of: $0) } }

    /// The counters, with every stream's ingest counters summed.
    static func stats(of s: borrowing State) -> RecordStats {
        var stats = s.stats
        stats.ingest = s.tracks.values.joined().reduce(s.unreadable.counters.snapshot) {
            $0 + $1.screen.counters.snapshot
        }
        stats.duplicates = stats.ingest.duplicates
        stats.late = stats.ingest.late
        stats.missing = stats.ingest.missing
        return stats
    }

    /// Subscribes `client` to the sensor topics, routing them to this recorder.
    public func attach(to client: MQTTClient) async throws(MQTTError) {
        for filter in options.filters {
            try await client.subscribe(filter, qos: .atLeastOnce) { [self] topic, payload in
                handle(topic: String(cString: topic), payload: payload)
            }
        }
    }

    /// Handles one sensor message.
    public func handle(topic: String, payload: UnsafeRawBufferPointer) {
        guard let key = Self.parse(topic: topic, prefix: options.prefix) else {
            reject(topic, "not a sensor topic ({prefix}/dev/{device}/sensor/{stream})")
            return
        }
        let decoded: (header: SensorBatch.Header, timestamps: [Int64], values: [Float])
        do { decoded = try SensorBatch.decode(payload, maxBytes: options.maxPayload) } catch {
            state.withLock { $0.unreadable.reject(error) }
            reject(topic, "\(error)")
            return
        }
        state.withLock { s in
            guard !s.closed else { return }
            do {
                try append(&s, key: key, decoded)
            } catch {
                s.stats.writeErrors += 1
                logger.error("cannot record \(topic): \(error)")
            }
        }
    }

    func append(
        _ s: inout State, key: Key, _ batch: (header: SensorBatch.Header, timestamps: [Int64], values: [Float])
    ) throws(RecordingError) {
        let header = batch.header
        var tracks = s.tracks[key] ?? []
        var index = tracks.firstIndex { $0.channels == header.channels && $0.format == header.format }
        if index == nil {
            let file: String
            switch target {
            case .directory(let directory):
                file = directory + "/" + Self.safeName(key.device) + "." + Self.safeName(key.stream) + ".trec"
            case .file(let path):
                file = path
            }
            if s.writers[file] == nil {
                s.writers[file] = try RecordingWriter(
                    path: file, streams: [], chunkFrames: options.chunkFrames, sync: options.sync,
                    compressionLevel: options.compressionLevel)
                logger.info("recording to \(file)")
            }
            let writer = s.writers[file]!
            let stream = makeStream(id: writer.nextStreamID, key: key, header: header)
            try writer.addStream(stream)
            logger.info(
                "new stream \(key.device)/\(key.stream): \(header.channels) channels, \(stream.sampleRate) Hz, id \(stream.id) in \(file)"
            )
            tracks.append(Track(file: file, streamID: stream.id, channels: header.channels, format: header.format))
            index = tracks.count - 1
            s.stats.streams += 1
        }
        let i = index!
        let lateBefore = tracks[i].screen.counters.snapshot.late
        let admitted = tracks[i].screen.admit(header)
        s.tracks[key] = tracks
        guard admitted else {
            if tracks[i].screen.counters.snapshot.late > lateBefore {
                logger.warning("dropped a late batch of \(key.device)/\(key.stream) (sequence \(header.sequence))")
            }
            return
        }
        let writer = s.writers[tracks[i].file]!
        try batch.timestamps.withUnsafeBufferPointer { t throws(RecordingError) in
            try batch.values.withUnsafeBufferPointer { v throws(RecordingError) in
                try writer.append(stream: tracks[i].streamID, timestamps: t, values: v)
            }
        }
        s.stats.batches += 1
        s.stats.frames += header.frames
    }

    func makeStream(id: UInt16, key: Key, header: SensorBatch.Header) -> RecordingStream {
        var names = (0..<header.channels).map { "c\($0)" }
        if let given = options.channelNames, given.count == header.channels { names = given }
        var mode = RecordingSampleMode.float32
        if case .int16(let scales) = header.format { mode = .int16(scales: scales) }
        let rate = header.period.map { 1e9 / Double($0) } ?? 0
        return RecordingStream(
            id: id, device: key.device, name: key.stream, channelNames: names, sampleRate: rate, mode: mode,
            labelNames: names.contains(CSVLayout.labelColumn) ? options.labelNames : [])
    }

    func reject(_ topic: String, _ reason: String) {
        state.withLock { $0.stats.rejected += 1 }
        logger.warning("rejected a message on \(topic): \(reason)")
    }

    /// Writes what every stream has buffered as (short) chunks, so a crash loses nothing received before.
    public func flush() throws(ReplayError) {
        try state.withLock { s throws(ReplayError) in
            for (_, writer) in s.writers {
                do throws(RecordingError) { try writer.flush() } catch { throw ReplayError(error) }
            }
        }
    }

    /// Flushes and closes every file (with its footer index); later messages are ignored.
    @discardableResult
    public func finish() throws(ReplayError) -> RecordStats {
        try state.withLock { s throws(ReplayError) in
            s.closed = true
            for (_, writer) in s.writers {
                do throws(RecordingError) { try writer.close() } catch { throw ReplayError(error) }
            }
            return Self.stats(of: s)
        }
    }

    /// Files written so far.
    public var files: [String] { state.withLock { Array($0.writers.keys).sorted() } }

    /// `{prefix}/dev/{device}/sensor/{stream}` → (device, stream).
    static func parse(topic: String, prefix: String) -> Key? {
        guard topic.hasPrefix(prefix + "/") else { return nil }
        let parts = topic.dropFirst(prefix.count + 1).split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 4, parts[0] == "dev", parts[2] == "sensor", !parts[1].isEmpty, !parts[3].isEmpty else {
            return nil
        }
        return Key(device: String(parts[1]), stream: String(parts[3]))
    }

    /// A file-name-safe version of an id.
    static func safeName(_ id: String) -> String {
        String(id.map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" ? $0 : "_" })
    }
}
