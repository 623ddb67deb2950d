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
    /// `Authorization: Bearer <token>` required on every request, when set.
    let token: String?

    /// A server for `host:port`; with a `token`, a request without `Authorization: Bearer <token>` is answered
    /// 401.
    public init(
        host: String, port: Int, metrics: AggregatorMetrics, board: StatusBoard, logger: Logger, token: String? = nil
    ) throws {
        server = HTTPServer(address: try .inet(ip4: host, port: UInt16(port)), logger: .disabled)
        self.metrics = metrics
        self.board = board
        self.logger = logger
        self.token = token
        address = "\(host):\(port)"
    }

    /// Whether `request` may be answered.
    static func authorized(_ request: HTTPRequest, token: String?) -> Bool {
        guard let token else { return true }
        guard let header = request.headers[.authorization] else { return false }
        // Constant time in the token's length: no early exit on the first differing byte.
        let given = Array(header.utf8)
        let wanted = Array("Bearer \(token)".utf8)
        guard given.count == wanted.count else { return false }
        return zip(given, wanted).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0
    }

    static let unauthorized = HTTPResponse(
        statusCode: .unauthorized, headers: [HTTPHeader("WWW-Authenticate"): "Bearer"], body: Data())

    /// Serves until graceful shutdown.
    public func run() async throws {
        let metrics = metrics
        let board = board
        let token = token
        await server.appendRoute("GET /metrics") { request in
            guard Self.authorized(request, token: token) else { return Self.unauthorized }
            return HTTPResponse(
                statusCode: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: Data(metrics.text.utf8))
        }
        await server.appendRoute("GET /status") { request in
            guard Self.authorized(request, token: token) else { return Self.unauthorized }
            return HTTPResponse(statusCode: .ok, headers: [.contentType: "application/json"], body: Data(board.current))
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
