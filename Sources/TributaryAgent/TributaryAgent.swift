import Agent
import ArgumentParser
import Foundation
import Logging
import ServiceLifecycle
import ServiceSupport

/// `tributary-agent`: the program on every device.
@main
struct TributaryAgent: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tributary-agent",
        abstract: "Learn on a device's sensor stream and take part in federated rounds over MQTT.",
        discussion: """
            Without a subcommand it runs the agent (same as `run`). The task (windows, features, model, codec) \
            comes from the specification the aggregator publishes; see Configs/agent.yaml for every setting.
            """,
        subcommands: [Run.self, Train.self, Fleet.self], defaultSubcommand: Run.self)
}

struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the agent (the default).",
        discussion: """
            Configuration: --config FILE (YAML, Configs/agent.yaml), environment variables \
            TRIBUTARY_AGENT_<KEY PATH> (TRIBUTARY_AGENT_BROKER_PORT=1884), then the flags below. The broker \
            password comes from TRIBUTARY_MQTT_PASSWORD. SIGTERM/SIGINT save the state and publish the status \
            offline. Exit codes: 0 stopped, 1 runtime failure, 64 bad configuration.
            """)

    @Option(help: "The YAML configuration file.")
    var config: String?

    @Option(help: "Broker as HOST:PORT.")
    var broker: String?

    @Option(help: "Device id.")
    var deviceId: String?

    @Option(help: "State directory.")
    var stateDir: String?

    @Flag(help: "Log more.")
    var verbose = false

    func run() async throws {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = verbose ? .debug : .info
            return handler
        }
        var settings: AgentConfig
        do {
            settings = try AgentConfig.load(path: config)
            if let broker {
                let flag = try BrokerFlag(broker)
                settings.broker.host = flag.host
                settings.broker.port = flag.port
            }
            if let deviceId { settings.deviceId = deviceId }
            if let stateDir { settings.stateDir = stateDir }
            try settings.validate()
        } catch {
            FileHandle.standardError.write(Data("tributary-agent: configuration: \(error)\n".utf8))
            throw ExitCode(64)
        }
        let logger = Logger(label: "tributary.agent.\(settings.deviceId)")
        let service = AgentService(config: settings, logger: logger)
        let group = ServiceGroup(
            configuration: .init(
                services: [.init(service: service, successTerminationBehavior: .gracefullyShutdownGroup)],
                gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        do { try await group.run() } catch {
            FileHandle.standardError.write(Data("tributary-agent: \(service.error ?? error)\n".utf8))
            throw ExitCode(1)
        }
    }
}
