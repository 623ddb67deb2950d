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
            directory under state_dir, and (for a recording source) one of the listed recordings, in turn. In \
            production mode each device needs its own credentials: write {id} in broker.tls.cert_file, key_file \
            and trust.signing_key (fleet/devices/{id}/tls.crt, as tributary provision lays them out). Logs \
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
            do {
                try Self.personalize(&settings)
                try settings.validate()
            } catch {
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

    /// Each device's own credentials: `{id}` in the TLS identity's and the signing key's paths becomes the
    /// device id (`fleet/devices/{id}/tls.crt`, as `tributary provision` lays them out). In production every
    /// device needs its own: a shared certificate would give every device one MQTT identity, and a shared key one
    /// signature.
    static func personalize(_ settings: inout AgentConfig) throws(ConfigError) {
        let id = settings.deviceId
        func fill(_ path: String) -> String {
            path.split(separator: "{id}", omittingEmptySubsequences: false).joined(separator: id)
        }
        var ownCertificate = false
        if case .tls(var tls) = settings.broker.transport {
            tls.caFile = fill(tls.caFile)
            if var identity = tls.identity {
                ownCertificate = identity.certificateFile.contains("{id}") && identity.keyFile.contains("{id}")
                identity.certificateFile = fill(identity.certificateFile)
                identity.keyFile = fill(identity.keyFile)
                tls.identity = identity
            }
            settings.broker.transport = .tls(tls)
        }
        let ownKey = settings.trust.signingKey?.contains("{id}") ?? false
        settings.trust.signingKey = settings.trust.signingKey.map(fill)
        guard !settings.insecure else { return }
        guard ownKey else {
            throw ConfigError(
                key: "trust.signing_key",
                problem:
                    "a production fleet needs each device's own key: write {id} in the path (devices/{id}/signing.key)")
        }
        guard ownCertificate else {
            throw ConfigError(
                key: "broker.tls.cert_file",
                problem:
                    "a production fleet needs each device's own certificate: write {id} in cert_file and key_file")
        }
    }

    /// Each device holds a connection and a few files open: lift the soft limit to the hard one.
    func raiseFileLimit() {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur < limit.rlim_max else { return }
        limit.rlim_cur = limit.rlim_max
        _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
    }
}
