import FlyingFox
import Foundation
public import Logging
public import ServiceLifecycle
import Synchronization

/// What `/status` shows: the aggregator writes it after every batch, the status server reads it.
public final class StatusBoard: Sendable {
    let json = Mutex<[UInt8]>(Array("{}".utf8))

    /// An empty board (`{}`).
    public init() {}

    /// The current status document.
    public var current: [UInt8] { json.withLock { $0 } }

    func post(_ bytes: [UInt8]) { json.withLock { $0 = bytes } }
}

/// The HTTP endpoint as a service of its own: `GET /metrics` (Prometheus text format) and `GET /status` (JSON),
/// on a loopback address by default. FlyingFox: a small, dependency-free async HTTP server on the standard
/// library's concurrency, enough for two routes and what the aggregator's footprint allows. A port that is
/// taken is an error at start-up (the group stops); on graceful shutdown it stops listening.
public final class StatusServer: Service, Sendable {
    let server: HTTPServer
    let metrics: AggregatorMetrics
    let board: StatusBoard
    let logger: Logger
    let address: String

    /// A server for `host:port`.
    public init(host: String, port: Int, metrics: AggregatorMetrics, board: StatusBoard, logger: Logger) throws {
        server = HTTPServer(address: try .inet(ip4: host, port: UInt16(port)), logger: .disabled)
        self.metrics = metrics
        self.board = board
        self.logger = logger
        address = "\(host):\(port)"
    }

    /// Serves until graceful shutdown.
    public func run() async throws {
        let metrics = metrics
        let board = board
        await server.appendRoute("GET /metrics") { _ in
            HTTPResponse(
                statusCode: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: Data(metrics.text.utf8))
        }
        await server.appendRoute("GET /status") { _ in
            HTTPResponse(statusCode: .ok, headers: [.contentType: "application/json"], body: Data(board.current))
        }
        logger.info("status and metrics on http://\(address)/status and /metrics")
        let server = server
        let stopping = Atomic<Bool>(false)
        do {
            try await withGracefulShutdownHandler {
                try await server.run()
            } onGracefulShutdown: {
                stopping.store(true, ordering: .releasing)
                Task { await server.stop(timeout: 2) }
            }
        } catch {
            // Stopping the server ends its run with an error: that is the shutdown asked for, not a failure.
            if !stopping.load(ordering: .acquiring) && !Task.isCancelled { throw error }
        }
    }
}
