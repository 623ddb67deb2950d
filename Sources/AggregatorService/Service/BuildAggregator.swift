import Configuration
public import Logging
import ServiceLifecycle
import SystemSupport

/// Everything `tributary-aggregator` runs, built from a configuration: the rounds service and, when its port is
/// not 0, the status server, in one service group with graceful shutdown. Tests build it in-process exactly as
/// the executable does.
public struct AggregatorApplication: Sendable {
    /// The rounds.
    public let service: AggregatorService
    /// `/status` and `/metrics`, if enabled.
    public let statusServer: StatusServer?
    let logger: Logger

    /// Runs every service until they finish (`max_rounds` reached stops the group), SIGTERM or SIGINT arrive
    /// (with `handlingSignals`; a test in-process leaves the test runner's signals alone), or the task is
    /// cancelled.
    public func run(handlingSignals: Bool = true) async throws {
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [
            .init(service: service, successTerminationBehavior: .gracefullyShutdownGroup)
        ]
        if let statusServer { services.append(.init(service: statusServer)) }
        let group = ServiceGroup(
            configuration: .init(
                services: services, gracefulShutdownSignals: handlingSignals ? [.sigterm, .sigint] : [],
                logger: logger))
        try await group.run()
    }
}

/// The aggregator of `configuration` (validated), ready to run.
public func buildAggregator(configuration: AggregatorConfig, logger: Logger) throws -> AggregatorApplication {
    let metrics = AggregatorMetrics()
    let board = StatusBoard()
    let service = AggregatorService(config: configuration, logger: logger, metrics: metrics, board: board)
    if configuration.insecure {
        logger.warning(
            "insecure: true — development mode: the broker connection may be plain TCP, nothing is signed and no signature is checked; never use it for a real fleet"
        )
    }
    var token: String?
    if let file = configuration.http.tokenFile {
        let line = try FileIO.readAll(file).split(separator: UInt8(ascii: "\n")).first.map {
            String(decoding: $0, as: UTF8.self)
        }
        guard let line, !line.isEmpty else { throw ConfigError(key: "http.token_file", problem: "\(file) is empty") }
        token = line
    }
    let statusServer =
        configuration.http.port == 0
        ? nil
        : try StatusServer(
            host: configuration.http.host, port: configuration.http.port, metrics: metrics, board: board,
            logger: logger, token: token)
    return AggregatorApplication(service: service, statusServer: statusServer, logger: logger)
}
