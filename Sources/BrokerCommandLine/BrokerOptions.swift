public import ArgumentParser
public import BrokerConnection
import Configuration

/// The broker flags of every command-line program built on swift-argument-parser (the aggregator, the replay
/// tool, the simulator, the benchmarks): `--broker HOST:PORT` and the TLS and credential flags, applied over
/// whatever a configuration file said. One parser (``BrokerFlag``), one set of rules (``BrokerSettings``).
public struct BrokerOptions: ParsableArguments {
    /// `--broker HOST:PORT`.
    @Option(help: "Broker as HOST:PORT.")
    public var broker: String?

    /// `--tls-ca FILE`.
    @Option(help: "CA certificate file: connect with TLS and verify the broker against it.")
    public var tlsCa: String?

    /// `--tls-cert FILE`.
    @Option(help: "This client's certificate, for brokers that require mutual TLS (with --tls-key and --tls-ca).")
    public var tlsCert: String?

    /// `--tls-key FILE`.
    @Option(help: "The private key of --tls-cert.")
    public var tlsKey: String?

    /// `--username NAME`.
    @Option(help: "Username; its password is read from --password-file or from TRIBUTARY_MQTT_PASSWORD.")
    public var username: String?

    /// `--password-file FILE`.
    @Option(help: "A file whose first line is the broker password (with --username).")
    public var passwordFile: String?

    /// No flags given.
    public init() {}

    /// Checks the flags on their own (what a file could complete, such as the CA, is checked by
    /// ``settings(over:)``).
    public func validate() throws {
        if let broker {
            do { _ = try BrokerFlag(broker) } catch {
                throw ValidationError("--broker must be HOST:PORT, not '\(broker)'")
            }
        }
        if (tlsCert == nil) != (tlsKey == nil) {
            throw ValidationError(tlsCert == nil ? "--tls-key needs --tls-cert" : "--tls-cert needs --tls-key")
        }
    }

    /// `base` (from a file, or the defaults) with the flags applied; a combination ``BrokerSettings`` cannot
    /// represent is a ``ValidationError`` naming the flags.
    public func settings(over base: BrokerSettings) throws(ValidationError) -> BrokerSettings {
        var settings = base
        if let broker {
            do { settings = settings.overriding(try BrokerFlag(broker)) } catch {
                throw ValidationError("--broker must be HOST:PORT, not '\(broker)'")
            }
        }
        switch (tlsCert, tlsKey) {
        case (nil, nil): break
        case (_?, nil): throw ValidationError("--tls-cert needs --tls-key")
        case (nil, _?): throw ValidationError("--tls-key needs --tls-cert")
        case (let cert?, let key?):
            guard let ca = tlsCa ?? base.tls?.caFile else { throw ValidationError("--tls-cert needs --tls-ca") }
            settings.transport = .tls(
                .init(caFile: ca, identity: .init(certificateFile: cert, keyFile: key)))
        }
        if let tlsCa, tlsCert == nil {
            var tls = settings.tls ?? .init(caFile: tlsCa)
            tls.caFile = tlsCa
            settings.transport = .tls(tls)
        }
        if let passwordFile, username == nil, settings.username == nil {
            throw ValidationError("--password-file \(passwordFile) needs --username")
        }
        if let name = username ?? settings.username, username != nil || passwordFile != nil {
            settings.authentication = .username(
                name, password: passwordFile.map { .file($0) } ?? .environment(BrokerSettings.defaultPasswordVariable))
        }
        return settings
    }
}
