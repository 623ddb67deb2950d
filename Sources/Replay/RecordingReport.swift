import CSVCodec
public import Recording
public import StreamCore
import TributaryWire

/// What `tributary-replay inspect` shows about a recording: the file, and per stream its metadata, duration,
/// per-channel statistics and label counts.
public struct RecordingReport: Sendable {
    /// One stream.
    public struct Stream: Sendable {
        /// Its description.
        public var stream: RecordingStream
        /// Frames stored.
        public var frames: Int
        /// Frame chunks.
        public var chunks: Int
        /// First and last time stamp (ns).
        public var timeRange: ClosedRange<Int64>?
        /// Statistics of each channel (finite values).
        public var channels: [ChannelStats]
        /// Non-finite values per channel.
        public var nonFinite: [Int]
        /// Frames per label of the label channel (name, or the id as text).
        public var labelChannelCounts: [(label: String, frames: Int)]
        /// Label events per label.
        public var labelEventCounts: [(label: String, events: Int)]

        /// Seconds from the first to the last frame.
        public var duration: Double { timeRange.map { Double($0.upperBound - $0.lowerBound) / 1e9 } ?? 0 }
    }

    /// The file.
    public var path: String
    /// Its size in bytes.
    public var bytes: Int
    /// The index was rebuilt by scanning (the writer did not close the file).
    public var recovered: Bool
    /// Bytes after the last complete chunk (a chunk cut short by a crash).
    public var ignoredTrailingBytes: Int
    /// The streams.
    public var streams: [Stream]

    /// Reads every chunk of `recording` (progress: chunks done, total).
    public init(_ recording: RecordingReader, bytes: Int, progress: (Int, Int?) -> Void = { _, _ in })
        throws(ReplayError)
    {
        path = recording.path
        self.bytes = bytes
        recovered = recording.recovered
        ignoredTrailingBytes = recording.ignoredTrailingBytes
        let total = recording.chunks.count
        var done = 0
        var streams: [Stream] = []
        for stream in recording.streams {
            let chunks = recording.frameChunks(stream: stream.id)
            var stats = [ChannelStats](repeating: ChannelStats(), count: stream.channels)
            var nonFinite = [Int](repeating: 0, count: stream.channels)
            let labelChannel = CSVLayout.labelChannel(of: stream)
            var labelCounts: [Float: Int] = [:]
            for chunk in chunks {
                let values: [Float]
                do { values = try recording.frames(chunk).values } catch { throw ReplayError(error) }
                for (i, v) in values.enumerated() {
                    let c = i % stream.channels
                    if v.isFinite { stats[c].add(v) } else { nonFinite[c] += 1 }
                    if c == labelChannel { labelCounts[v, default: 0] += 1 }
                }
                done += 1
                progress(done, total)
            }
            func name(_ id: Int) -> String {
                stream.labelNames.indices.contains(id) ? stream.labelNames[id] : String(id)
            }
            let channelCounts = labelCounts.sorted { $0.key < $1.key }.map { (id, n) in
                (label: Int(exactly: id).map(name) ?? "\(id)", frames: n)
            }
            let events: [LabelEvent]
            do { events = try recording.labels(stream: stream.id) } catch { throw ReplayError(error) }
            var eventCounts: [UInt16: Int] = [:]
            for event in events { eventCounts[event.label, default: 0] += 1 }
            streams.append(
                Stream(
                    stream: stream, frames: recording.frameCount(stream: stream.id), chunks: chunks.count,
                    timeRange: recording.timeRange(stream: stream.id), channels: stats, nonFinite: nonFinite,
                    labelChannelCounts: channelCounts,
                    labelEventCounts: eventCounts.sorted { $0.key < $1.key }.map { (name(Int($0.key)), $0.value) }))
        }
        self.streams = streams
    }

    /// A human-readable report.
    public var text: String {
        var out = "\(path): \(bytes) bytes, \(streams.count) stream\(streams.count == 1 ? "" : "s")"
        if recovered {
            out += " (not closed cleanly: index rebuilt by scanning; \(ignoredTrailingBytes) trailing bytes ignored)"
        }
        out += "\n"
        for s in streams {
            let st = s.stream
            out += "\nstream \(st.id): device \(st.device), stream \(st.name)\n"
            out += "  frames      \(s.frames) in \(s.chunks) chunks, \(fixedDecimal(s.duration, digits: 3)) s"
            if st.sampleRate > 0 { out += " at \(fixedDecimal(st.sampleRate, digits: 3)) Hz nominal" }
            out += "\n"
            if let range = s.timeRange {
                out +=
                    "  time        \(CSVLayout.seconds(range.lowerBound)) … \(CSVLayout.seconds(range.upperBound)) s\n"
            }
            switch st.mode {
            case .float32: out += "  storage     float32 (lossless)\n"
            case .int16(let scales):
                out += "  storage     int16 × scale (\(scales.map { CSVLayout.text($0) }.joined(separator: ", ")))\n"
            }
            if s.frames > 0 {
                let rawBytes = s.frames * st.channels * 4
                out += "  raw float32 \(rawBytes) bytes\n"
            }
            for key in st.tags.keys.sorted() { out += "  tag         \(key) = \(st.tags[key]!)\n" }
            out += "  channel         unit        count        mean         std         min         max  non-finite\n"
            for (c, name) in st.channelNames.enumerated() {
                let stats = s.channels[c]
                out += "  " + Self.pad(name, 15) + " " + Self.pad(st.units[c], 8) + Self.right(String(stats.count), 9)
                for v in [stats.mean, stats.standardDeviation, Double(stats.min), Double(stats.max)] {
                    out += Self.right(stats.count > 0 ? fixedDecimal(v, digits: 4) : "-", 12)
                }
                out += Self.right(String(s.nonFinite[c]), 12) + "\n"
            }
            if !s.labelChannelCounts.isEmpty {
                out +=
                    "  label channel: "
                    + s.labelChannelCounts.map { "\($0.label) \($0.frames)" }.joined(separator: ", ") + "\n"
            }
            if !s.labelEventCounts.isEmpty {
                out +=
                    "  label events: " + s.labelEventCounts.map { "\($0.label) \($0.events)" }.joined(separator: ", ")
                    + "\n"
            }
        }
        return out
    }

    /// The report as one JSON object.
    public var json: String {
        var w = JSONWriter()
        w.beginObject()
        w.string("path", path)
        w.integer("bytes", Int64(bytes))
        w.bool("recovered", recovered)
        w.integer("ignored_trailing_bytes", Int64(ignoredTrailingBytes))
        w.beginArray("streams")
        for s in streams {
            let st = s.stream
            w.beginObject()
            w.integer("id", Int64(st.id))
            w.string("device", st.device)
            w.string("stream", st.name)
            w.integer("frames", Int64(s.frames))
            w.integer("chunks", Int64(s.chunks))
            w.number("duration_s", s.duration)
            w.number("sample_rate_hz", st.sampleRate)
            if let range = s.timeRange {
                w.integer("first_ns", range.lowerBound)
                w.integer("last_ns", range.upperBound)
            }
            switch st.mode {
            case .float32: w.string("storage", "float32")
            case .int16: w.string("storage", "int16")
            }
            w.beginObject("tags")
            for key in st.tags.keys.sorted() { w.string(key, st.tags[key]!) }
            w.endObject()
            w.beginArray("channels")
            for (c, name) in st.channelNames.enumerated() {
                let stats = s.channels[c]
                w.beginObject()
                w.string("name", name)
                w.string("unit", st.units[c])
                w.integer("count", Int64(stats.count))
                w.number("mean", stats.mean)
                w.number("std", stats.standardDeviation)
                w.number("min", Double(stats.min))
                w.number("max", Double(stats.max))
                w.integer("non_finite", Int64(s.nonFinite[c]))
                w.endObject()
            }
            w.endArray()
            w.beginObject("label_channel")
            for entry in s.labelChannelCounts { w.integer(entry.label, Int64(entry.frames)) }
            w.endObject()
            w.beginObject("label_events")
            for entry in s.labelEventCounts { w.integer(entry.label, Int64(entry.events)) }
            w.endObject()
            w.endObject()
        }
        w.endArray()
        w.endObject()
        return w.text
    }

    static func pad(_ s: String, _ width: Int) -> String {
        s.count >= width ? s : s + String(repeating: " ", count: width - s.count)
    }
    static func right(_ s: String, _ width: Int) -> String {
        s.count >= width ? " " + s : String(repeating: " ", count: width - s.count) + s
    }
}
