public import Configuration
public import MQTT
import SystemSupport

extension BrokerSettings {
    /// Checks what a file or flag cannot already rule out: a host, a port in range, a valid client id.
    public func validate() throws(ConfigError) {
        guard !host.isEmpty else { throw ConfigError(key: "broker.host", problem: "is empty") }
        guard (1...65_535).contains(port) else { throw ConfigError(key: "broker.port", problem: "must be 1…65535") }
        if let clientID, clientID.isEmpty || clientID.utf8.count > 128 {
            throw ConfigError(key: "broker.client_id", problem: "must be 1…128 bytes")
        }
    }

    /// The client's configuration: these settings, with the program's own client id and session where the
    /// settings leave them open. The password is read now, from its file or variable. The caller adds what is
    /// its own (a will, the in-flight window, reconnection).
    public func mqttConfiguration(
        clientID defaultClientID: String, cleanSession defaultCleanSession: Bool,
        environment: ((String) -> String?)? = nil
    ) throws(ConfigError) -> MQTTConfiguration {
        let environment = environment ?? Environment.value
        try validate()
        var configuration = MQTTConfiguration(
            host: host, port: port, clientID: clientID ?? defaultClientID,
            cleanSession: cleanSession ?? defaultCleanSession, keepAlive: keepAlive)
        if case .tls(let tls) = transport {
            configuration.tls = MQTTTLSConfiguration(
                caFile: tls.caFile, certificateFile: tls.identity?.certificateFile, keyFile: tls.identity?.keyFile,
                verifyHostname: tls.verifyHostname)
        }
        if case .username(let name, let source) = authentication {
            configuration.credentials = MQTTCredentials(
                username: name, password: try Self.password(source, environment))
        }
        return configuration
    }

    /// Reads a password from where it is kept.
    static func password(_ source: PasswordSource, _ environment: (String) -> String?) throws(ConfigError) -> String? {
        switch source {
        case .none:
            return nil
        case .environment(let name):
            return environment(name)
        case .file(let path):
            let bytes: [UInt8]
            do { bytes = try FileIO.readAll(path) } catch {
                throw ConfigError(key: "broker.password_file", problem: "cannot read \(path): \(error.reason)")
            }
            let text = String(decoding: bytes, as: UTF8.self)
            return String(text.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false).first ?? "")
        }
    }

    /// These settings with a `--broker HOST:PORT` flag applied.
    public func overriding(_ flag: BrokerFlag?) -> BrokerSettings {
        guard let flag else { return self }
        var settings = self
        settings.host = flag.host
        settings.port = flag.port
        return settings
    }
}
