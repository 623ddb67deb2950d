import ArgumentParser
import Glibc
import Logging
import MQTT
import Replay

/// Broker flags shared by `record` and `play`.
struct BrokerOptions: ParsableArguments {
    @Option(help: "Broker as HOST:PORT.")
    var broker = "127.0.0.1:1883"

    @Option(help: "Topic prefix.")
    var prefix = "tributary/v1"

    @Option(help: "Username (the password is read from TRIBUTARY_MQTT_PASSWORD).")
    var username: String?

    @Option(help: "CA certificate file: connect with TLS and verify the broker against it.")
    var caFile: String?

    func validate() throws {
        _ = try endpoint()
    }

    func endpoint() throws(ValidationError) -> BrokerEndpoint {
        let parts = broker.split(separator: ":")
        guard parts.count == 2, !parts[0].isEmpty, let port = Int(parts[1]), (1...65_535).contains(port) else {
            throw ValidationError("--broker must be HOST:PORT, not '\(broker)'")
        }
        var endpoint = BrokerEndpoint(host: String(parts[0]), port: port)
        if let username {
            endpoint.credentials = MQTTCredentials(
                username: username, password: getenv("TRIBUTARY_MQTT_PASSWORD").map { String(cString: $0) })
        }
        if let caFile { endpoint.tls = MQTTTLSConfiguration(caFile: caFile) }
        return endpoint
    }
}

/// Logging to standard error at `level`.
func bootstrapLogging(verbose: Bool) -> Logger {
    LoggingSystem.bootstrap { label in
        var handler = StreamLogHandler.standardError(label: label)
        handler.logLevel = verbose ? .debug : .info
        return handler
    }
    return Logger(label: "tributary.replay")
}

/// Prints `error` and exits with its code.
func fail(_ error: ReplayError) -> ExitCode {
    var text = "tributary-replay: error: \(error.message)\n"
    text.withUTF8 { _ = Glibc.write(STDERR_FILENO, $0.baseAddress, $0.count) }
    return ExitCode(error.exitCode)
}

/// Parses "10", "10s", "500ms", "2m", "1h" into seconds.
func seconds(_ text: String) -> Double? {
    let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600)]
    for (suffix, scale) in units where text.hasSuffix(suffix) {
        guard let value = Double(text.dropLast(suffix.count)), value.isFinite, value >= 0 else { return nil }
        return value * scale
    }
    guard let value = Double(text), value.isFinite, value >= 0 else { return nil }
    return value
}

extension Duration {
    init(seconds: Double) { self = .nanoseconds(Int64((seconds * 1e9).rounded())) }
}
