public import Recording

/// CSV → recording (`tributary-replay convert data.csv data.trec`). See ``CSVLayout`` for the layout.
public struct CSVImport {
    /// How values are stored.
    public enum Storage: Sendable, Hashable {
        /// Float32, lossless.
        case float32
        /// Int16 with these per-channel scales (value = raw × scale).
        case int16(scales: [Float])
        /// Int16 with a scale per channel chosen so the largest magnitude maps to 32,767.
        case int16Automatic
    }

    /// Device id (default: the file's `# device:` line, else the file name without extension).
    public var device: String?
    /// Stream name (default: the file's `# stream:` line, else "stream").
    public var stream: String?
    /// Nominal rate in Hz (default: `# rate:`); required when there is no time column.
    public var rate: Double?
    /// Storage.
    public var storage: Storage = .float32
    /// Tags stored with the stream (added to the file's `# tag.NAME:` lines).
    public var tags: [String: String] = [:]
    /// A label for every frame, for data sets with one file per class: adds a label channel holding it
    /// (ignored when the file has a label column).
    public var constantLabel: String?
    /// Label names in a fixed order (ids), so files of one data set agree on them; names met that are not listed
    /// are added after.
    public var labelNames: [String] = []
    /// Frames per chunk.
    public var chunkFrames = 8_192
    /// zstd level.
    public var compressionLevel = 12

    /// Creates options.
    public init() {}

    /// What a conversion produced.
    public struct Result: Sendable {
        /// The stream written.
        public var stream: RecordingStream
        /// Frames written.
        public var frames: Int
        /// Bytes of the recording.
        public var bytes: Int
    }

    struct Header {
        var metadata: [String: String] = [:]
        var timeColumn: Int?
        var timeIsNanoseconds = false
        var labelColumn: Int?
        var channelColumns: [Int] = []
        var names: [String] = []
        var units: [String] = []
        var columns = 0
    }

    /// Converts `csvPath` ("-" for standard input) to a recording at `outputPath`; `progress` gets bytes read
    /// and the total (nil for a pipe).
    public func convert(
        csvPath: String, to outputPath: String, progress: (Int, Int?) -> Void = { _, _ in }
    ) throws(CSVError) -> Result {
        let source = try CSVSource(path: csvPath)
        let header = try readHeader(source)
        let baseName = csvPath == "-" ? "stdin" : String(csvPath.split(separator: "/").last ?? "csv")
        let device =
            self.device ?? header.metadata["device"]
            ?? String(baseName.split(separator: ".").first ?? Substring(baseName))
        let streamName = self.stream ?? header.metadata["stream"] ?? "stream"
        var rate = self.rate ?? 0
        if self.rate == nil, let text = header.metadata["rate"] {
            guard let parsed = Double(text), parsed > 0, parsed.isFinite else {
                throw CSVError(.invalidInput, "\(csvPath): '# rate: \(text)' is not a positive number")
            }
            rate = parsed
        }
        if header.timeColumn == nil && rate <= 0 {
            throw CSVError(
                .invalidInput,
                "\(csvPath): no time column (time or time_ns); give the sample rate (--rate or '# rate:')")
        }

        // A first pass when the stream header needs to know the whole file: label names, automatic scales.
        var labelNames =
            header.metadata["label_names"].map { $0.split(separator: ",").map { String($0.trimmingSpaces) } }
            ?? self.labelNames
        var maxMagnitude = [Float](repeating: 0, count: header.channelColumns.count)
        if header.labelColumn != nil || storage == .int16Automatic {
            var known = Set(labelNames)
            try forEachRow(source, header) { _, values, label throws(CSVError) in
                if let label, !label.isEmpty, !known.contains(label) {
                    known.insert(label)
                    labelNames.append(label)
                }
                for (c, v) in values.enumerated() where v.isFinite { maxMagnitude[c] = max(maxMagnitude[c], abs(v)) }
            }
            try source.rewind()
            _ = try readHeader(source)
        }

        let constantLabel = header.labelColumn == nil ? self.constantLabel : nil
        if let constantLabel, !labelNames.contains(constantLabel) { labelNames.append(constantLabel) }
        let hasLabelChannel = header.labelColumn != nil || constantLabel != nil
        var channelNames = header.names
        var units = header.units
        if hasLabelChannel {
            channelNames.append(CSVLayout.labelColumn)
            units.append("")
        }
        var mode = RecordingSampleMode.float32
        switch storage {
        case .float32: break
        case .int16(let scales):
            guard scales.count == header.channelColumns.count || scales.count == 1 else {
                throw CSVError(.usage, "\(scales.count) int16 scales for \(header.channelColumns.count) channels")
            }
            let perChannel =
                scales.count == 1 ? Array(repeating: scales[0], count: header.channelColumns.count) : scales
            mode = .int16(scales: perChannel + (hasLabelChannel ? [1] : []))
        case .int16Automatic:
            let scales = maxMagnitude.map { $0 > 0 ? $0 / 32_767 : 1 }
            mode = .int16(scales: scales + (hasLabelChannel ? [1] : []))
        }
        var tags: [String: String] = [:]
        for (key, value) in header.metadata where key.hasPrefix("tag.") { tags[String(key.dropFirst(4))] = value }
        tags.merge(self.tags) { _, new in new }
        let stream = RecordingStream(
            id: 0, device: device, name: streamName, channelNames: channelNames, units: units, sampleRate: rate,
            mode: mode, labelNames: hasLabelChannel ? labelNames : [], tags: tags)

        let writer: RecordingWriter
        do {
            writer = try RecordingWriter(
                path: outputPath, streams: [stream], chunkFrames: chunkFrames, sync: .never,
                compressionLevel: compressionLevel)
        } catch { throw CSVError(error) }
        let labelIDs = Dictionary(uniqueKeysWithValues: labelNames.enumerated().map { ($1, Float($0)) })
        var timestamps: [Int64] = []
        var values: [Float] = []
        var frames = 0
        let total = source.size
        func flush() throws(CSVError) {
            guard !timestamps.isEmpty else { return }
            do {
                try timestamps.withUnsafeBufferPointer { t throws(RecordingError) in
                    try values.withUnsafeBufferPointer { v throws(RecordingError) in
                        try writer.append(stream: 0, timestamps: t, values: v)
                    }
                }
            } catch { throw CSVError(error) }
            timestamps.removeAll(keepingCapacity: true)
            values.removeAll(keepingCapacity: true)
            progress(source.offset ?? 0, total)
        }
        try forEachRow(source, header) { time, rowValues, label throws(CSVError) in
            timestamps.append(time ?? Int64((Double(frames) * 1e9 / rate).rounded()))
            values += rowValues
            if header.labelColumn != nil {
                values.append(label.flatMap { labelIDs[$0] } ?? -1)
            } else if let constantLabel {
                values.append(labelIDs[constantLabel]!)
            }
            frames += 1
            if timestamps.count == chunkFrames { try flush() }
        }
        try flush()
        do { try writer.close() } catch { throw CSVError(error) }
        progress(total ?? 0, total)
        return Result(stream: stream, frames: frames, bytes: writer.bytesWritten)
    }

    func readHeader(_ source: CSVSource) throws(CSVError) -> Header {
        var header = Header()
        while let line = try source.next() {
            if line.allSatisfy({ $0 == " " || $0 == "\t" }) { continue }
            if line.hasPrefix("#") {
                let body = line.dropFirst()
                if let colon = body.firstIndex(of: ":") {
                    let key = body[..<colon].trimmingSpaces.lowercased()
                    header.metadata[key] = String(body[body.index(after: colon)...].trimmingSpaces)
                }
                continue
            }
            let cells = line.split(separator: ",", omittingEmptySubsequences: false)
            header.columns = cells.count
            for (i, cell) in cells.enumerated() {
                let (name, unit) = CSVLayout.splitUnit(cell)
                switch name.lowercased() {
                case "time", "t", "time_s", "time_ns", "timestamp", "timestamp_ns":
                    guard header.timeColumn == nil else {
                        throw CSVError(.invalidInput, "\(source.path):\(source.lineNumber): two time columns")
                    }
                    header.timeColumn = i
                    header.timeIsNanoseconds = name.lowercased().hasSuffix("_ns")
                case CSVLayout.labelColumn:
                    header.labelColumn = i
                default:
                    guard !name.isEmpty else {
                        throw CSVError(
                            .invalidInput, "\(source.path):\(source.lineNumber): column \(i + 1) has no name")
                    }
                    header.channelColumns.append(i)
                    header.names.append(name)
                    header.units.append(unit)
                }
            }
            guard !header.channelColumns.isEmpty, header.channelColumns.count < 1_024 else {
                throw CSVError(
                    .invalidInput,
                    "\(source.path): the header names \(header.channelColumns.count) value columns (1…1023)")
            }
            return header
        }
        throw CSVError(.invalidInput, "\(source.path): no header row (expected e.g. 'time,acc_x,acc_y,acc_z')")
    }

    /// Calls `body` with each row's time stamp (nil without a time column), channel values and label cell.
    func forEachRow(
        _ source: CSVSource, _ header: Header,
        _ body: (Int64?, [Float], String?) throws(CSVError) -> Void
    ) throws(CSVError) {
        var row = [Float](repeating: 0, count: header.channelColumns.count)
        var previous = Int64.min
        var cells: [Substring] = []
        while let line = try source.next() {
            if line.isEmpty || line.hasPrefix("#") { continue }
            cells.removeAll(keepingCapacity: true)
            cells.append(contentsOf: line.split(separator: ",", omittingEmptySubsequences: false))
            let at = "\(source.path):\(source.lineNumber)"
            guard cells.count == header.columns else {
                throw CSVError(.invalidInput, "\(at): \(cells.count) columns, the header has \(header.columns)")
            }
            var time: Int64?
            if let t = header.timeColumn {
                let cell = cells[t]
                time = header.timeIsNanoseconds ? Int64(cell.trimmingSpaces) : CSVLayout.nanoseconds(seconds: cell)
                guard let time else { throw CSVError(.invalidInput, "\(at): time '\(cell)' is not a number") }
                guard time >= previous else { throw CSVError(.invalidInput, "\(at): time goes backwards") }
                previous = time
            }
            for (c, column) in header.channelColumns.enumerated() {
                guard let v = CSVLayout.value(cells[column]) else {
                    throw CSVError(
                        .invalidInput, "\(at): '\(cells[column])' in column \(header.names[c]) is not a number")
                }
                row[c] = v
            }
            try body(time, row, header.labelColumn.map { String(cells[$0].trimmingSpaces) })
        }
    }
}

/// Lines of a CSV file that can be read twice; standard input is kept in memory for that.
final class CSVSource {
    let path: String
    let reader: LineReader?
    var memory: [String] = []
    var memoryIndex = 0
    private(set) var lineNumber = 0

    init(path: String) throws(CSVError) {
        self.path = path
        if path == "-" {
            let input = try LineReader(path: "-")
            while let line = try input.next() { memory.append(line) }
            reader = nil
        } else {
            reader = try LineReader(path: path)
        }
    }

    var size: Int? { reader?.size }
    var offset: Int? { reader?.offset }

    func next() throws(CSVError) -> String? {
        if let reader {
            let line = try reader.next()
            lineNumber = reader.lineNumber
            return line
        }
        guard memoryIndex < memory.count else { return nil }
        memoryIndex += 1
        lineNumber = memoryIndex
        return memory[memoryIndex - 1]
    }

    func rewind() throws(CSVError) {
        if let reader { try reader.rewind() } else { memoryIndex = 0 }
        lineNumber = 0
    }
}
