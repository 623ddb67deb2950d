import Agent
import BrokerConnection
import Configuration
import Glibc
import Logging
import SystemSupport

/// `tributary-agent fleet`: many devices in one process, for scale tests on one machine.
struct Fleet {
    static let spec = Options.Spec(
        options: [
            ("config", "file", "The YAML configuration every device starts from."),
            ("broker", "host:port", "Broker as HOST:PORT."),
            ("devices", "n", "How many devices (1…300; required)."),
            ("id-prefix", "prefix", "Device id prefix (default dev-)."),
            ("first-device", "n", "Number of the first device (default 1; several fleet processes share a fleet)."),
            ("recordings-per-device", "n", "Recordings each device plays, taken in turn from the list (default 1)."),
            ("loop-ms", "ms", "Milliseconds between passes of each device's loop (default 200)."),
        ],
        flags: [("verbose", "Log every device's info messages.")])

    static let help = Options.help(
        usage: "tributary-agent fleet --devices <n> [--config <file>] [--broker <host:port>] [--first-device <n>] ...",
        abstract: "Run many devices in one process, each a full agent with its own MQTT connection (scale tests).",
        discussion: """
            Every device gets the configuration file's settings, the id PREFIX0001, PREFIX0002, …, its own state \
            directory under state_dir, and (for a recording source) one of the listed recordings, in turn. Logs \
            warnings only unless --verbose. SIGTERM/SIGINT stop every device cleanly.
            """, spec: spec)

    let config: String?
    let broker: String?
    let devices: Int
    let idPrefix: String
    let firstDevice: Int
    let recordingsPerDevice: Int
    let loopMs: Int
    let verbose: Bool

    init(_ arguments: ArraySlice<String>) throws(UsageError) {
        let options = try Options(arguments, spec: Self.spec)
        config = options["config"]
        broker = options["broker"]
        guard options["devices"] != nil else { throw UsageError("--devices is required") }
        devices = try options.integer("devices", default: 0)
        idPrefix = options["id-prefix"] ?? "dev-"
        firstDevice = try options.integer("first-device", default: 1)
        recordingsPerDevice = try options.integer("recordings-per-device", default: 1)
        loopMs = try options.integer("loop-ms", default: 200)
        verbose = options.flags.contains("verbose")
        // libmosquitto waits on its sockets with select(), which cannot watch descriptors past 1024.
        guard (1...300).contains(devices) else {
            throw UsageError(
                "--devices must be 1…300 per process (libmosquitto's select() loop cannot watch more than 1024 descriptors); start several processes with --first-device"
            )
        }
        guard firstDevice >= 1 else { throw UsageError("--first-device must be at least 1") }
        guard recordingsPerDevice >= 1 else { throw UsageError("--recordings-per-device must be at least 1") }
    }

    /// Runs every device until SIGTERM/SIGINT; the exit code.
    func run() async -> Int32 {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = verbose ? .info : .warning
            return handler
        }
        raiseFileLimit()
        var base: AgentConfig
        do {
            base = try AgentConfig.load(path: config)
            base.broker = base.broker.overriding(try broker.map(BrokerFlag.init))
            base.loopMs = loopMs
        } catch {
            printError("tributary-agent: configuration: \(error)")
            return 64
        }
        let width = max(4, String(firstDevice + devices - 1).count)
        var services: [AgentService] = []
        for i in 0..<devices {
            var settings = base
            let number = String(firstDevice + i)
            settings.deviceId = idPrefix + String(repeating: "0", count: max(0, width - number.count)) + number
            settings.stateDir = base.stateDir + "/" + settings.deviceId
            if !base.source.recordings.isEmpty {
                let all = base.source.recordings
                settings.source.recordings = (0..<recordingsPerDevice).map {
                    all[(i * recordingsPerDevice + $0) % all.count]
                }
            }
            settings.trimCodePages = i == 0  // one process: trimmed once
            do { try settings.validate() } catch {
                printError("tributary-agent: configuration: \(error)")
                return 64
            }
            services.append(
                AgentService(config: settings, logger: Logger(label: "tributary.agent.\(settings.deviceId)")))
        }
        let logger = Logger(label: "tributary.fleet")
        logger.warning("fleet of \(devices) devices on \(base.broker.address)")
        AgentSignals.services.withLock { $0 = services }
        // The devices run, and shut down, together: a thousand agents each saying goodbye to the broker one
        // after another would take minutes.
        do {
            try await withThrowingDiscardingTaskGroup { group in
                for service in services { group.addTask { try await service.run() } }
            }
        } catch {
            printError("tributary-agent: \(error)")
            return 1
        }
        return 0
    }

    /// Each device holds a connection and a few files open: lift the soft limit to the hard one.
    func raiseFileLimit() {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur < limit.rlim_max else { return }
        limit.rlim_cur = limit.rlim_max
        _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
    }
}
