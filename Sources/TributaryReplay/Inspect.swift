import ArgumentParser
import Glibc
import Recording
import Replay

struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show a recording's streams, duration, channels, per-channel statistics and label counts.")

    @Argument(help: "The recording.")
    var file: String

    @Flag(help: "Print JSON.")
    var json = false

    func run() throws {
        do {
            let recording: RecordingReader
            do { recording = try RecordingReader(path: file) } catch { throw ReplayError(error) }
            var info = stat()
            let size = stat(file, &info) == 0 ? Int(info.st_size) : 0
            let bar = ProgressBar(
                "inspect", total: recording.chunks.count, unit: "chunks", enabled: recording.chunks.count > 200)
            let report = try RecordingReport(recording, bytes: size) { done, _ in bar.update(done) }
            bar.finish(recording.chunks.count)
            print(json ? report.json : report.text, terminator: json ? "\n" : "")
        } catch let error as ReplayError {
            throw fail(error)
        }
    }
}
