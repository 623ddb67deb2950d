import Agent
import BrokerConnection
import Configuration
import Logging
import SystemSupport

/// `tributary-agent [run]`: the agent.
struct Run {
    static let spec = Options.Spec(
        options: [
            ("config", "file", "The YAML configuration file."),
            ("broker", "host:port", "Broker as HOST:PORT."),
            ("device-id", "id", "Device id."),
            ("state-dir", "dir", "State directory."),
        ],
        flags: [
            ("check", "Validate the configuration, print what the agent would run with, and exit."),
            ("verbose", "Log more."),
        ])

    static let help = Options.help(
        usage:
            "tributary-agent [run] [--config <file>] [--broker <host:port>] [--device-id <id>] [--state-dir <dir>] [--check]",
        abstract: "Run the agent (the default).",
        discussion: """
            Configuration: --config FILE (YAML, Configs/agent.yaml), environment variables \
            TRIBUTARY_AGENT_<KEY PATH> (TRIBUTARY_AGENT_BROKER_PORT=1884), then the flags below. The broker \
            password comes from broker.password_file or the variable broker.password_env names \
            (TRIBUTARY_MQTT_PASSWORD by default). SIGTERM/SIGINT save the state and publish the status \
            offline. Exit codes: 0 stopped, 1 runtime failure, 64 bad configuration.
            """, spec: spec)

    let options: Options

    init(_ arguments: ArraySlice<String>) throws(UsageError) {
        options = try Options(arguments, spec: Self.spec)
    }

    /// Runs until SIGTERM/SIGINT; the exit code.
    func run() async -> Int32 {
        let verbose = options.flags.contains("verbose")
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = verbose ? .debug : .info
            return handler
        }
        var settings: AgentConfig
        do {
            settings = try AgentConfig.load(path: options["config"])
            settings.broker = settings.broker.overriding(try options["broker"].map(BrokerFlag.init))
            if let deviceId = options["device-id"] { settings.deviceId = deviceId }
            if let stateDir = options["state-dir"] { settings.stateDir = stateDir }
            try settings.validate()
        } catch {
            printError("tributary-agent: configuration: \(error)")
            return 64
        }
        if options.flags.contains("check") {
            print(Self.summary(settings))
            return 0
        }
        let logger = Logger(label: "tributary.agent.\(settings.deviceId)")
        let service = AgentService(config: settings, logger: logger)
        AgentSignals.services.withLock { $0 = [service] }
        do { try await service.run() } catch {
            printError("tributary-agent: \(service.error ?? error)")
            return 1
        }
        logger.info("stopped")
        return 0
    }

    /// What `--check` prints: the settings that matter for connecting and trusting, one per line.
    static func summary(_ settings: AgentConfig) -> String {
        var transport = "plain TCP"
        if case .tls(let tls) = settings.broker.transport {
            transport = "TLS, CA \(tls.caFile)" + (tls.identity.map { ", certificate \($0.certificateFile)" } ?? "")
        }
        return [
            "configuration OK",
            "device_id: \(settings.deviceId)",
            "task: \(settings.task)",
            "mode: \(settings.insecure ? "insecure (development)" : "production")",
            "broker: \(settings.broker.address) (\(transport))",
            "signing_key: \(settings.trust.signingKey ?? "none")",
            "aggregator_key: \(settings.trust.aggregatorKey ?? "none")",
            "source: \(settings.source.kind)",
            "state_dir: \(settings.stateDir)",
        ].joined(separator: "\n")
    }
}
