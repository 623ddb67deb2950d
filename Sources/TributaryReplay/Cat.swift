import ArgumentParser
import CSVCodec
import Recording
import Replay

struct Cat: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print a recording's samples (or label events) as CSV.",
        discussion: """
            --from/--to are seconds from the stream's first frame; only the chunks that overlap the range are \
            read (the footer index finds them). Printed times are the recorded ones, in seconds.
            """)

    @Argument(help: "The recording.")
    var file: String

    @Option(help: "Stream id (default: the first).")
    var stream: UInt16?

    @Option(help: "Start, in seconds from the first frame (inclusive).")
    var from: String?

    @Option(help: "End, in seconds from the first frame (inclusive).")
    var to: String?

    @Flag(help: "Leave out the '# key: value' metadata lines.")
    var noMetadata = false

    @Flag(help: "Print the label events instead of the samples.")
    var labels = false

    func validate() throws {
        for (name, value) in [("--from", from), ("--to", to)] {
            if let value, CSVLayout.nanoseconds(secondsText: value) == nil {
                throw ValidationError("\(name) '\(value)' is not a time in seconds")
            }
        }
    }

    func run() throws {
        do {
            let recording: RecordingReader
            do { recording = try RecordingReader(path: file) } catch { throw ReplayError(error) }
            var export = CSVExport()
            export.stream = stream
            export.metadata = !noMetadata
            let first = try export.resolveStream(recording).id
            let origin = recording.timeRange(stream: first)?.lowerBound ?? 0
            if let from { export.from = origin &+ CSVLayout.nanoseconds(secondsText: from)! }
            if let to { export.to = origin &+ CSVLayout.nanoseconds(secondsText: to)! }
            if labels {
                try export.writeLabelEvents(recording, to: "-")
            } else {
                try export.write(recording, to: "-")
            }
        } catch let error as ReplayError {
            throw fail(error)
        }
    }
}
