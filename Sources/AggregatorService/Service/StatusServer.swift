import FlyingFox
import Foundation
import Glibc
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
/// taken is an error at start-up (the group stops, the aggregator exits); once it has listened, a failure
/// (accept out of descriptors) is counted (`tributary_http_errors_total`) and it listens again after a short
/// back-off; on graceful shutdown it stops listening.
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
        let server = server
        let stopping = Flag()
        let startFailure = Mutex<(any Error)?>(nil)
        var listened = false
        var failures = 0
        // Descriptors held in reserve while the server runs, and given back the moment accepting fails: a flood of
        // connections then leaves the rest of the process (the state database, checkpoints, the broker
        // connection) room to work while the server sheds its connections.
        var reserve = Self.reserveDescriptors(16)
        defer { Self.release(&reserve) }
        await withGracefulShutdownHandler {
            while !stopping.value.load(ordering: .acquiring) && !Task.isCancelled {
                // FlyingFox opens an epoll queue and an eventfd before it binds, and keeps them when binding
                // fails (and the eventfd when it stops): try again only when descriptors are to be had.
                if listened && !Self.descriptorsAvailable(8) {
                    try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .milliseconds(500)) }
                    continue
                }
                if reserve.isEmpty { reserve = Self.reserveDescriptors(16) }
                let started = ContinuousClock.now
                let outcome = await self.serve(server, stopping: stopping, onFailure: { Self.release(&reserve) })
                if stopping.value.load(ordering: .acquiring) || Task.isCancelled { return }
                switch outcome {
                case .listened(let error):
                    // Accepting failed (out of descriptors, …): counted, and the server listens again. After a
                    // healthy half minute, the back-off starts afresh.
                    listened = true
                    if ContinuousClock.now - started > .seconds(30) { failures = 0 }
                    failures += 1
                    metrics.httpErrors.increment()
                    logger.error("status endpoint on \(address): \(error); listening again (\(failures) errors)")
                case .neverListened(let error) where !listened:
                    startFailure.withLock { $0 = error }
                    return
                case .neverListened(let error):
                    failures += 1
                    metrics.httpErrors.increment()
                    logger.error("status endpoint on \(address) cannot listen again yet: \(error)")
                }
                let backOff = Duration.milliseconds(Swift.min(5_000, 100 << Swift.min(failures, 6)))
                try? await cancelWhenGracefulShutdown { try await Task.sleep(for: backOff) }
            }
        } onGracefulShutdown: {
            stopping.value.store(true, ordering: .releasing)
            Task { await server.stop(timeout: 2) }
        }
        if let error = startFailure.withLock({ $0 }) {
            throw StatusServerError(message: "cannot listen on \(address) (is the port taken?): \(error)")
        }
    }

    /// `count` descriptors (duplicates of standard error) to keep in reserve; fewer if the process has fewer.
    static func reserveDescriptors(_ count: Int) -> [Int32] {
        (0..<count).compactMap { _ in
            let fd = dup(2)
            return fd >= 0 ? fd : nil
        }
    }

    /// Closes the reserve.
    static func release(_ reserve: inout [Int32]) {
        for fd in reserve { close(fd) }
        reserve = []
    }

    /// Whether `count` more file descriptors can be opened now (they are opened and closed again).
    static func descriptorsAvailable(_ count: Int) -> Bool {
        var probe = reserveDescriptors(count)
        defer { release(&probe) }
        return probe.count == count
    }

    /// How one run of the server ended.
    enum Outcome {
        /// It listened, then failed.
        case listened(any Error)
        /// It could not listen at all (bind or listen failed).
        case neverListened(any Error)
    }

    /// Runs the server until it fails or is stopped; tells whether it was listening (it logs when it is). A
    /// shutdown that came while the server was starting (its `stop` then had nothing to stop) stops it once it
    /// listens.
    func serve(_ server: HTTPServer, stopping: Flag, onFailure: () -> Void) async -> Outcome {
        let listening = Flag()
        let address = address
        let logger = logger
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await server.run() }
                group.addTask {
                    try await server.waitUntilListening(timeout: 30)
                    listening.value.store(true, ordering: .releasing)
                    if stopping.value.load(ordering: .acquiring) {
                        await server.stop(timeout: 2)
                        return
                    }
                    logger.info("status and metrics on http://\(address)/status and /metrics")
                    try await Task.sleep(for: .seconds(1_000_000_000))
                }
                // The first to end is the server's run (the watcher sleeps once it has seen the server listen).
                try await group.next()
                group.cancelAll()
                throw StatusServerError(message: "the server stopped")
            }
        } catch {
            onFailure()
            return listening.value.load(ordering: .acquiring) ? .listened(error) : .neverListened(error)
        }
        return .listened(StatusServerError(message: "the server stopped"))
    }
}

/// A flag shared with a child task.
final class Flag: Sendable {
    let value = Atomic<Bool>(false)
}

/// The status endpoint could not start.
public struct StatusServerError: Error, CustomStringConvertible {
    /// What went wrong.
    public var message: String
    /// The message.
    public var description: String { message }
}
