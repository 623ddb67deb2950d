import ArgumentParser
import Glibc
import Logging
import Recording
import Replay
import ServiceLifecycle

struct Record: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Subscribe to sensor topics and write what arrives into recordings.",
        discussion: """
            Subscribes (QoS 1) to {prefix}/dev/{device}/sensor/{stream} for the chosen devices and streams (all \
            by default) and appends each batch to a recording: one file per device and stream in --out, or \
            everything in --file. Duplicate batches (redeliveries) are dropped; gaps, late batches and invalid \
            messages are counted and logged. Buffered frames are written every --flush-interval, so a crash \
            loses at most that much; SIGINT/SIGTERM (or the end of --duration) close the files cleanly.
            """)

    @OptionGroup var brokerOptions: ReplayBrokerOptions

    @Option(name: .customLong("out"), help: "Directory for one file per device and stream.")
    var directory: String?

    @Option(help: "A single file for every stream.")
    var file: String?

    @Option(name: .customLong("device"), help: "Record only this device (repeatable).")
    var devices: [String] = []

    @Option(name: .customLong("stream"), help: "Record only this stream name (repeatable).")
    var streams: [String] = []

    @Option(help: "Stop after this long (e.g. 30s, 10m); default: until SIGINT/SIGTERM.")
    var duration: String?

    @Option(help: "Channel names, comma-separated (a channel named 'label' is the label channel).")
    var channels: String?

    @Option(help: "Names of the label channel's values, comma-separated (index = label id).")
    var labelNames: String?

    @Option(help: "fsync policy: 'chunk' (after every chunk), 'never', or a number of chunks.")
    var sync = "chunk"

    @Option(help: "Write buffered frames at least this often (e.g. 5s).")
    var flushInterval = "5s"

    @Option(help: "Frames per chunk.")
    var chunkFrames = 8_192

    @Flag(help: "Log more.")
    var verbose = false

    func validate() throws {
        guard (directory == nil) != (file == nil) else {
            throw ValidationError("give exactly one of --out DIR and --file PATH")
        }
        if let duration, seconds(duration) == nil {
            throw ValidationError("--duration '\(duration)' is not a duration")
        }
        guard let flush = seconds(flushInterval), flush > 0 else {
            throw ValidationError("--flush-interval must be positive")
        }
        guard syncPolicy != nil else { throw ValidationError("--sync must be chunk, never or a positive number") }
        guard (1...1_000_000).contains(chunkFrames) else { throw ValidationError("--chunk-frames must be 1…1000000") }
    }

    var syncPolicy: RecordingWriter.SyncPolicy? {
        switch sync {
        case "chunk": .everyChunk
        case "never": .never
        default: Int(sync).flatMap { $0 > 0 ? .everyChunks($0) : nil }
        }
    }

    func run() async throws {
        let logger = bootstrapLogging(verbose: verbose)
        var options = RecordOptions()
        options.prefix = brokerOptions.prefix
        options.devices = devices.isEmpty ? nil : devices
        options.streams = streams.isEmpty ? nil : streams
        options.channelNames = channels.map { $0.split(separator: ",").map(String.init) }
        options.labelNames = labelNames.map { $0.split(separator: ",").map(String.init) } ?? []
        options.sync = syncPolicy!
        options.chunkFrames = chunkFrames
        if let directory {
            var info = stat()
            if stat(directory, &info) != 0 { _ = mkdir(directory, 0o755) }
            guard stat(directory, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR else {
                throw fail(ReplayError(.file, "\(directory): not a directory, and cannot be created"))
            }
        }
        let recorder = Recorder(
            target: directory.map { .directory($0) } ?? .file(file!), options: options, logger: logger)
        let limit = duration.flatMap(seconds)
        let bar = limit.map { ProgressBar("record", total: Int($0), unit: "s") }
        let session = RecordSession(
            recorder: recorder, broker: try brokerOptions.settings(), duration: limit.map { Duration(seconds: $0) },
            flushInterval: Duration(seconds: seconds(flushInterval)!), logger: logger,
            progress: { [bar] stats, elapsed in
                if let bar { bar.update(Int(elapsed.components.seconds)) }
                _ = stats
            })
        let group = ServiceGroup(
            configuration: .init(
                services: [.init(service: session, successTerminationBehavior: .gracefullyShutdownGroup)],
                gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
        switch session.result {
        case .success(let stats)?:
            bar?.finish(limit.map(Int.init) ?? 0)
            logger.info(
                "recorded \(stats.streams) streams to \(recorder.files.joined(separator: ", ")): \(stats.ingest.summary)"
            )
        case .failure(let error)?:
            throw fail(error)
        case nil:
            break
        }
    }
}
