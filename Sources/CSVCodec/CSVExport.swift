public import Recording

/// Recording → CSV (`tributary-replay cat` and `convert data.trec data.csv`), in the layout ``CSVLayout``
/// describes, so the output converts back to the same samples.
public struct CSVExport {
    /// Stream to print (default: the first).
    public var stream: UInt16?
    /// Earliest time stamp printed (ns).
    public var from: Int64 = .min
    /// Latest time stamp printed (ns).
    public var to: Int64 = .max
    /// Write the `# key: value` metadata lines before the header.
    public var metadata = true

    /// Creates options.
    public init() {}

    /// Writes the frames to `outputPath` ("-" for standard output); returns the number of frames. `progress`
    /// gets chunks done and the total.
    @discardableResult
    public func write(
        _ recording: RecordingReader, to outputPath: String, progress: (Int, Int?) -> Void = { _, _ in }
    ) throws(CSVError) -> Int {
        let stream = try resolveStream(recording)
        let output = try TextOutput(path: outputPath)
        let labelChannel = CSVLayout.labelChannel(of: stream)
        var text = ""
        if metadata {
            text += "# device: \(stream.device)\n# stream: \(stream.name)\n"
            if stream.sampleRate > 0 { text += "# rate: \(stream.sampleRate)\n" }
            for key in stream.tags.keys.sorted() { text += "# tag.\(key): \(stream.tags[key]!)\n" }
            if labelChannel != nil, !stream.labelNames.isEmpty {
                text += "# label_names: \(stream.labelNames.joined(separator: ","))\n"
            }
        }
        var columns = ["time"]
        for (c, name) in stream.channelNames.enumerated() {
            columns.append(stream.units[c].isEmpty ? name : "\(name)[\(stream.units[c])]")
        }
        text += columns.joined(separator: ",") + "\n"
        try output.write(text)

        let chunks = recording.frameChunks(stream: stream.id, from: from, to: to)
        var frames = 0
        let channels = stream.channels
        for (n, chunk) in chunks.enumerated() {
            let (timestamps, values): ([Int64], [Float])
            do { (timestamps, values) = try recording.frames(chunk) } catch { throw CSVError(error) }
            text.removeAll(keepingCapacity: true)
            for i in timestamps.indices where timestamps[i] >= from && timestamps[i] <= to {
                text += CSVLayout.seconds(timestamps[i])
                for c in 0..<channels {
                    text += ","
                    let v = values[i * channels + c]
                    if c == labelChannel {
                        if v == -1 { continue }
                        if let id = Int(exactly: v), stream.labelNames.indices.contains(id) {
                            text += stream.labelNames[id]
                            continue
                        }
                    }
                    text += CSVLayout.text(v)
                }
                text += "\n"
                frames += 1
            }
            try output.write(text)
            progress(n + 1, chunks.count)
        }
        try output.finish()
        return frames
    }

    /// Writes the label events of the stream as `start,end,label` lines.
    public func writeLabelEvents(_ recording: RecordingReader, to outputPath: String) throws(CSVError) {
        let stream = try resolveStream(recording)
        let output = try TextOutput(path: outputPath)
        var text = "start,end,label\n"
        let events: [LabelEvent]
        do { events = try recording.labels(stream: stream.id) } catch { throw CSVError(error) }
        for event in events where event.end >= from && event.start <= to {
            let name =
                stream.labelNames.indices.contains(Int(event.label))
                ? stream.labelNames[Int(event.label)]
                : String(event.label)
            text += "\(CSVLayout.seconds(event.start)),\(CSVLayout.seconds(event.end)),\(name)\n"
        }
        try output.write(text)
        try output.finish()
    }

    /// The stream these options select.
    public func resolveStream(_ recording: RecordingReader) throws(CSVError) -> RecordingStream {
        guard let id = stream ?? recording.streams.first?.id else {
            throw CSVError(.invalidInput, "\(recording.path): the recording has no streams")
        }
        do { return try recording.stream(id) } catch { throw CSVError(error) }
    }
}
