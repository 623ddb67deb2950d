import Agent
import ArgumentParser
import Foundation
import Logging
import ServiceLifecycle
import ServiceSupport

/// `tributary-agent fleet`: many devices in one process, for scale tests on one machine.
struct Fleet: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run many devices in one process, each a full agent with its own MQTT connection (scale tests).",
        discussion: """
            Every device gets the configuration file's settings, the id PREFIX0001, PREFIX0002, …, its own state \
            directory under state_dir, and (for a recording source) one of the listed recordings, in turn. Logs \
            warnings only unless --verbose. SIGTERM/SIGINT stop every device cleanly.
            """)

    @Option(help: "The YAML configuration every device starts from.")
    var config: String?

    @Option(help: "Broker as HOST:PORT.")
    var broker: String?

    @Option(help: "How many devices.")
    var devices: Int

    @Option(help: "Device id prefix.")
    var idPrefix = "dev-"

    @Option(help: "Number of the first device (several fleet processes share out a larger fleet).")
    var firstDevice = 1

    @Option(help: "Recordings each device plays, taken in turn from the configuration's list.")
    var recordingsPerDevice = 1

    @Option(help: "Milliseconds between passes of each device's loop.")
    var loopMs = 200

    @Flag(help: "Log every device's info messages.")
    var verbose = false

    func validate() throws {
        // libmosquitto waits on its sockets with select(), which cannot watch descriptors past 1024.
        guard (1...300).contains(devices) else {
            throw ValidationError(
                "--devices must be 1…300 per process (libmosquitto's select() loop cannot watch more than 1024 descriptors); start several processes with --first-device"
            )
        }
        guard firstDevice >= 1 else { throw ValidationError("--first-device must be at least 1") }
        guard recordingsPerDevice >= 1 else { throw ValidationError("--recordings-per-device must be at least 1") }
    }

    func run() async throws {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = verbose ? .info : .warning
            return handler
        }
        raiseFileLimit()
        var base: AgentConfig
        do {
            base = try AgentConfig.load(path: config)
            if let broker {
                let flag = try BrokerFlag(broker)
                base.broker.host = flag.host
                base.broker.port = flag.port
            }
            base.loopMs = loopMs
        } catch {
            FileHandle.standardError.write(Data("tributary-agent: configuration: \(error)\n".utf8))
            throw ExitCode(64)
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
                FileHandle.standardError.write(Data("tributary-agent: configuration: \(error)\n".utf8))
                throw ExitCode(64)
            }
            services.append(
                AgentService(config: settings, logger: Logger(label: "tributary.agent.\(settings.deviceId)")))
        }
        let logger = Logger(label: "tributary.fleet")
        logger.warning("fleet of \(devices) devices on \(base.broker.host):\(base.broker.port)")
        let group = ServiceGroup(
            configuration: .init(
                services: [.init(service: Devices(services: services))],
                gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        do { try await group.run() } catch {
            FileHandle.standardError.write(Data("tributary-agent: \(error)\n".utf8))
            throw ExitCode(1)
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

/// The devices as one service: they run, and shut down, together (a service group stops its services one after
/// another, and a thousand agents each saying goodbye to the broker would take minutes).
struct Devices: Service {
    let services: [AgentService]

    func run() async throws {
        try await withThrowingDiscardingTaskGroup { group in
            for service in services { group.addTask { try await service.run() } }
        }
    }
}
