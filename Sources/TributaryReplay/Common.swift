import ArgumentParser
import BrokerCommandLine
import BrokerConnection
import Glibc
import Logging
import Replay

/// Broker flags shared by `record` and `play`: the shared broker options and the topic prefix.
struct ReplayBrokerOptions: ParsableArguments {
    @OptionGroup(title: "Broker")
    var connection: BrokerOptions

    @Option(help: "Topic prefix.")
    var prefix = "tributary/v1"

    /// Where to connect (a local development broker unless the flags say otherwise).
    func settings() throws(ValidationError) -> BrokerSettings {
        try connection.settings(over: BrokerSettings())
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
