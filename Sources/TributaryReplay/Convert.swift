import ArgumentParser
import CSVCodec
import Recording
import Replay

struct Convert: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Convert CSV to a recording, or a recording to CSV.",
        discussion: """
            The direction follows the file names: INPUT.csv (or - for standard input) → OUTPUT.trec, or \
            INPUT.trec → OUTPUT.csv (or - for standard output). CSV layout: an optional '# key: value' block \
            (device, stream, rate, tag.NAME), a header row, then one frame per line. The time column is 'time' \
            (seconds) or 'time_ns'; without one, give --rate. A 'label' column becomes the label channel; \
            'name[unit]' headers carry units. Float32 values convert losslessly both ways \
            (docs/recording-format.md).
            """)

    @Argument(help: "Input file (.csv, .trec, or - for CSV on standard input).")
    var input: String

    @Argument(help: "Output file (.trec, .csv, or - for CSV on standard output).")
    var output: String

    @Option(help: "Device id (CSV → recording).")
    var device: String?

    @Option(help: "Stream name (CSV → recording).")
    var stream: String?

    @Option(help: "Sample rate in Hz (CSV → recording; required without a time column).")
    var rate: Double?

    @Option(help: "A tag stored with the stream, KEY=VALUE (repeatable; CSV → recording).")
    var tag: [String] = []

    @Option(help: "A label for every frame (adds a label channel), for data sets with one file per class.")
    var label: String?

    @Option(help: "Label names in id order, comma-separated, so files of one data set agree on label ids.")
    var labelNames: String?

    @Option(help: "Store int16 × scale: 'auto', one scale, or one per channel (comma-separated).")
    var int16: String?

    @Option(help: "zstd level (1…19; higher is smaller and slower to write).")
    var level = 19

    @Option(help: "Stream id to export (recording → CSV; default: the first).")
    var streamID: UInt16?

    var toRecording: Bool { !input.hasSuffix(".trec") }

    func validate() throws {
        if toRecording {
            guard output.hasSuffix(".trec") else { throw ValidationError("CSV converts to a .trec file") }
        } else {
            guard output == "-" || output.hasSuffix(".csv") else {
                throw ValidationError("a recording converts to .csv or -")
            }
        }
        if let rate { guard rate > 0, rate.isFinite else { throw ValidationError("--rate must be positive") } }
        guard (1...19).contains(level) else { throw ValidationError("--level must be 1…19") }
        for t in tag where !t.contains("=") { throw ValidationError("--tag must be KEY=VALUE, not '\(t)'") }
        if let int16, int16 != "auto" {
            guard int16.split(separator: ",").allSatisfy({ Float($0).map { $0 > 0 && $0.isFinite } ?? false }) else {
                throw ValidationError("--int16 must be 'auto' or positive scales")
            }
        }
    }

    func run() throws {
        do {
            if toRecording {
                var options = CSVImport()
                options.device = device
                options.stream = stream
                options.rate = rate
                options.compressionLevel = level
                options.constantLabel = label
                options.labelNames = labelNames.map { $0.split(separator: ",").map(String.init) } ?? []
                for t in tag {
                    let parts = t.split(separator: "=", maxSplits: 1)
                    options.tags[String(parts[0])] = parts.count > 1 ? String(parts[1]) : ""
                }
                if let int16 {
                    options.storage =
                        int16 == "auto"
                        ? .int16Automatic
                        : .int16(scales: int16.split(separator: ",").map { Float($0)! })
                }
                var bar: ProgressBar?
                var lastDone = 0
                let result = try options.convert(csvPath: input, to: output) { done, total in
                    if bar == nil { bar = ProgressBar("convert", total: total, unit: "bytes") }
                    bar?.update(done)
                    lastDone = done
                }
                bar?.finish(lastDone)
                let raw = result.frames * result.stream.channels * 4
                print(
                    "\(output): \(result.frames) frames × \(result.stream.channels) channels, \(result.bytes) bytes (\(raw > 0 ? Int((Double(result.bytes) / Double(raw) * 100).rounded()) : 0) % of raw float32)"
                )
            } else {
                let recording: RecordingReader
                do { recording = try RecordingReader(path: input) } catch { throw ReplayError(error) }
                var export = CSVExport()
                export.stream = streamID
                let chunks = recording.chunks.count
                let bar = ProgressBar("convert", total: chunks, unit: "chunks", enabled: output != "-")
                let frames = try export.write(recording, to: output) { done, _ in bar.update(done) }
                bar.finish(chunks)
                if output != "-" { print("\(output): \(frames) frames") }
            }
        } catch let error as ReplayError {
            throw fail(error)
        }
    }
}
