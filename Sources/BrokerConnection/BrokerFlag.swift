public import Configuration

/// A `--broker HOST:PORT` flag, parsed for the services' command lines.
public struct BrokerFlag: Sendable, Hashable {
    /// Host name or address.
    public var host: String
    /// TCP port, 1…65535.
    public var port: Int

    /// Parses `HOST:PORT`; the error names the flag.
    public init(_ text: String) throws(ConfigError) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, let port = Int(parts[1]), (1...65_535).contains(port) else {
            throw ConfigError(key: "--broker", problem: "must be HOST:PORT, not '\(text)'")
        }
        host = String(parts[0])
        self.port = port
    }
}
