import FlyingFox
import Foundation
import Logging
import Synchronization

/// The HTTP endpoint: `GET /metrics` (Prometheus text format) and `GET /status` (JSON), on a loopback address
/// by default.
final class StatusServer: Sendable {
    let server: HTTPServer
    let metrics: AggregatorMetrics
    let status: @Sendable () -> [UInt8]

    init(host: String, port: Int, metrics: AggregatorMetrics, status: @escaping @Sendable () -> [UInt8]) throws {
        server = HTTPServer(address: try .inet(ip4: host, port: UInt16(port)), logger: .disabled)
        self.metrics = metrics
        self.status = status
    }

    /// Serves until cancelled.
    func run() async throws {
        let metrics = metrics
        let status = status
        await server.appendRoute("GET /metrics") { _ in
            HTTPResponse(
                statusCode: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: Data(metrics.text.utf8))
        }
        await server.appendRoute("GET /status") { _ in
            HTTPResponse(statusCode: .ok, headers: [.contentType: "application/json"], body: Data(status()))
        }
        try await server.run()
    }

    func stop() async { await server.stop() }
}
