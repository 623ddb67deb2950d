import AggregatorService
import ArgumentParser
import BrokerCommandLine
import Configuration
import Foundation
import Logging
import SystemSupport

/// `tributary-aggregator`: announces rounds, collects sparse updates, aggregates, publishes the global model.
@main
struct TributaryAggregator: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tributary-aggregator",
        abstract: "Run federated rounds for one task over MQTT: announce, collect updates, aggregate, publish.",
        discussion: """
            Configuration: a YAML file (sample and every key documented in Configs/aggregator.yaml); any key can \
            also come from the environment as TRIBUTARY_AGGREGATOR_<KEY PATH> (for example \
            TRIBUTARY_AGGREGATOR_ROUNDS_DURATION_S=10); the flags override both. The broker password is read \
            from broker.password_file, or the variable broker.password_env names (TRIBUTARY_MQTT_PASSWORD by \
            default).

            State (SQLite and model checkpoints) lives in the state directory: a restarted aggregator resumes the \
            round it was in. Status and Prometheus metrics: GET /status and /metrics on the http address \
            (127.0.0.1:9464 by default). SIGTERM or SIGINT stop it after acknowledging what it holds.

            Exit codes: 0 done (or stopped), 1 runtime failure (broker, disk), 64 bad configuration.
            """)

    @Option(help: "The YAML configuration file.")
    var config: String

    @OptionGroup(title: "Broker (overrides the file)")
    var broker: BrokerOptions

    @Option(help: "State directory (overrides the file).")
    var stateDir: String?

    @Flag(
        help:
            "Hot standby: if another aggregator holds the state directory, wait for it to stop instead of exiting.")
    var standby = false

    @Option(
        help: ArgumentHelp(
            "Seconds to keep trying the broker at start-up (0: until stopped; overrides the file).",
            valueName: "seconds"))
    var connectTimeout: Double?

    @Flag(help: "Validate the configuration, print it as JSON, and exit.")
    var check = false

    @Flag(help: "Log more.")
    var verbose = false

    func run() async throws {
        let level: Logger.Level = verbose ? .debug : .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "tributary.aggregator")
        var settings: AggregatorConfig
        do {
            settings = try ConfigLoader.load(path: config)
            settings.broker = try broker.settings(over: settings.broker)
            if let stateDir { settings.stateDir = stateDir }
            if standby { settings.standby = true }
            if let connectTimeout { settings.connectTimeoutS = connectTimeout }
            try settings.validate()
        } catch {
            FileHandle.standardError.write(Data("tributary-aggregator: configuration: \(error)\n".utf8))
            throw ExitCode(64)
        }
        if check {
            let encoder = JSONEncoder()
            encoder.keyEncodingStrategy = .convertToSnakeCase
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            print(String(decoding: try encoder.encode(settings), as: UTF8.self))
            return
        }
        let application: AggregatorApplication
        do { application = try buildAggregator(configuration: settings, logger: logger) } catch {
            FileHandle.standardError.write(Data("tributary-aggregator: \(error)\n".utf8))
            throw ExitCode(1)
        }
        do {
            try await application.run()
        } catch {
            FileHandle.standardError.write(Data("tributary-aggregator: \(application.service.error ?? error)\n".utf8))
            throw ExitCode(1)
        }
    }
}
