import ArgumentParser
import Logging
import MQTT
import Replay
import ServiceLifecycle

struct Play: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Publish recordings to MQTT sensor topics, as the recorded devices did.",
        discussion: """
            Each stream of each file is played as a device on {prefix}/dev/{device}/sensor/{stream}, in batches \
            of --batch frames (default: 0.1 s of data). Pacing follows the time stamps in real time, at --speed \
            ×N, or --fast (as fast as the broker takes it); due times are computed from the start, so lag does \
            not accumulate. --devices N plays the files round-robin as N devices named by --device-id.
            """)

    @OptionGroup var brokerOptions: ReplayBrokerOptions

    @Argument(help: "Recordings to play.")
    var files: [String]

    @Option(help: "Playback speed (1 = real time).")
    var speed = 1.0

    @Flag(help: "As fast as possible (no pacing).")
    var fast = false

    @Option(help: "Play this many times (time stamps keep increasing).")
    var loops = 1

    @Flag(help: "Loop until stopped.")
    var forever = false

    @Option(help: "Play the files as this many devices (round-robin).")
    var devices: Int?

    @Option(help: "Device id template with --devices: {n} = 1…N, {device} = the recorded id.")
    var deviceID = "replay-{n}"

    @Option(help: "Frames per message (default: 0.1 s of data).")
    var batch: Int?

    @Option(help: "QoS of the sensor messages (0, 1 or 2).")
    var qos = 1

    @Flag(help: "Stamp frames relative to now (as live devices would) instead of the recorded times.")
    var rebase = false

    @Flag(help: "Publish label events as an extra label channel.")
    var labelEvents = false

    @Flag(help: "Log more.")
    var verbose = false

    func validate() throws {
        guard !files.isEmpty else { throw ValidationError("give at least one recording") }
        guard speed > 0, speed.isFinite else { throw ValidationError("--speed must be positive") }
        guard loops >= 1 else { throw ValidationError("--loops must be at least 1") }
        if let devices { guard devices >= 1 else { throw ValidationError("--devices must be at least 1") } }
        if let batch { guard (1...65_535).contains(batch) else { throw ValidationError("--batch must be 1…65535") } }
        guard MQTTQoS(rawValue: Int32(qos)) != nil else { throw ValidationError("--qos must be 0, 1 or 2") }
    }

    func run() async throws {
        let logger = bootstrapLogging(verbose: verbose)
        var options = PlaybackOptions()
        options.speed = fast ? nil : speed
        options.loops = forever ? nil : loops
        options.batchFrames = batch
        options.qos = MQTTQoS(rawValue: Int32(qos))!
        options.prefix = brokerOptions.prefix
        options.rebaseToNow = rebase
        options.labelEventsAsChannel = labelEvents
        let assignments =
            devices.map { PlaybackAssignment.fleet(paths: files, count: $0, template: deviceID) }
            ?? files.map { PlaybackAssignment(path: $0) }
        let player: Player
        do { player = try Player(assignments, options: options) } catch { throw fail(error) }
        logger.info(
            "playing \(files.count) file(s) as \(Set(player.devices).count) device(s) \(fast ? "as fast as possible" : "at ×\(speed)")"
        )
        let bar = ProgressBar("play", total: player.totalFrames, unit: "frames")
        let session = PlaySession(
            player: player, broker: try brokerOptions.settings(), logger: logger,
            progress: { [bar] stats in bar.update(stats.frames) })
        let group = ServiceGroup(
            configuration: .init(
                services: [.init(service: session, successTerminationBehavior: .gracefullyShutdownGroup)],
                gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
        switch session.result {
        case .success(let stats)?:
            bar.finish(stats.frames)
            logger.info(
                "published \(stats.frames) frames (\(stats.values) values) in \(stats.batches) messages, \(stats.bytes) bytes; worst lag \(stats.worstLag)"
            )
        case .failure(let error)?:
            throw fail(error)
        case nil:
            break
        }
    }
}
