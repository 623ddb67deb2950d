import ArgumentParser
import BrokerCommandLine
import BrokerConnection
import Configuration
import Documents
import Foundation
import MQTT
import Testing

@Suite struct BrokerSettingsTests {
    struct Wrapper: Codable {
        var broker = BrokerSettings()
    }

    func load(_ yaml: String) throws(ConfigError) -> BrokerSettings {
        let loader = YAMLConfiguration(environmentPrefix: "TEST_", rejectsUnknownKeys: true)
        return try loader.decode(
            Wrapper.self, yaml: yaml, defaults: YAMLConfiguration.tree(of: Wrapper()), environment: [:],
            source: "test"
        ).broker
    }

    func problem(_ yaml: String) -> ConfigError? {
        do {
            _ = try load(yaml)
            return nil
        } catch { return error }
    }

    @Test("the defaults are a local development broker: loopback, plain TCP, anonymous")
    func defaults() throws {
        let settings = try load("{}")
        #expect(settings == BrokerSettings())
        #expect(settings.address == "127.0.0.1:1883" && settings.tls == nil && settings.authentication == .anonymous)
    }

    @Test("mutual TLS and a password file are read into the one shape they can have")
    func full() throws {
        let settings = try load(
            """
            broker:
              host: broker.example
              port: 8883
              client_id: dev-7
              keepalive_s: 20
              clean_session: true
              tls: {ca_file: ca.pem, cert_file: dev.pem, key_file: dev.key}
              username: dev-7
              password_file: /run/secret
            """)
        #expect(settings.host == "broker.example" && settings.port == 8883 && settings.clientID == "dev-7")
        #expect(settings.keepAlive == .seconds(20) && settings.cleanSession == true)
        #expect(
            settings.transport
                == .tls(.init(caFile: "ca.pem", identity: .init(certificateFile: "dev.pem", keyFile: "dev.key"))))
        #expect(settings.authentication == .username("dev-7", password: .file("/run/secret")))
        // Encoding gives back the same settings.
        let again = try YAMLConfiguration.decode(
            Wrapper.self, from: try DocumentEncoder().encode(Wrapper(broker: settings)), source: "again")
        #expect(again.broker == settings)
    }

    @Test("combinations the settings cannot represent are refused, naming the key")
    func invalid() {
        #expect(problem("broker: {tls: {ca_file: ca.pem, cert_file: d.pem}}")?.key == "broker.tls.key_file")
        #expect(problem("broker: {tls: {ca_file: ca.pem, key_file: d.key}}")?.key == "broker.tls.cert_file")
        #expect(problem("broker: {tls: {cert_file: d.pem, key_file: d.key}}")?.key == "broker.tls.ca_file")
        #expect(problem("broker: {password_file: /x}")?.key == "broker.password_file")
        #expect(problem("broker: {password_env: X}")?.key == "broker.password_env")
        #expect(problem("broker: {username: u, password_file: /x, password_env: X}")?.key == "broker.password_file")
        #expect(problem("broker: {keepalive_s: 0}")?.key == "broker.keepalive_s")
        #expect(problem("broker: {ca_file: ca.pem}")?.key == "broker.ca_file", "the old flat key is not a setting")
        #expect(problem("broker: {tls: {ca_file: ca.pem, verify: false}}")?.key == "broker.tls.verify")
    }

    @Test("the known keys come from the type, the optional TLS section included")
    func keys() {
        let keys = YAMLConfiguration.settings(of: Wrapper.self, defaults: YAMLConfiguration.tree(of: Wrapper()))
        for key in [
            ["broker", "host"], ["broker", "tls", "ca_file"], ["broker", "tls", "key_file"],
            ["broker", "password_file"], ["broker", "clean_session"],
        ] {
            #expect(keys.contains(key), "\(key)")
        }
        #expect(!keys.contains(["broker", "tls"]), "a section is not a setting")
    }

    @Test("the MQTT configuration: the program's client id and session unless set, TLS, password from its source")
    func mqtt() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("broker-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let secret = directory.appendingPathComponent("secret").path
        try "s3cret\nignored\n".write(toFile: secret, atomically: true, encoding: .utf8)

        var settings = BrokerSettings(
            transport: .tls(.init(caFile: "ca.pem", identity: .init(certificateFile: "c.pem", keyFile: "c.key"))),
            authentication: .username("dev-1", password: .file(secret)))
        var configuration = try settings.mqttConfiguration(clientID: "agent-dev-1", cleanSession: false)
        #expect(configuration.clientID == "agent-dev-1" && configuration.cleanSession == false)
        #expect(configuration.tls == MQTTTLSConfiguration(caFile: "ca.pem", certificateFile: "c.pem", keyFile: "c.key"))
        #expect(configuration.credentials == MQTTCredentials(username: "dev-1", password: "s3cret"))

        settings.clientID = "fixed"
        settings.cleanSession = true
        settings.authentication = .username("dev-1", password: .environment("PW"))
        configuration = try settings.mqttConfiguration(
            clientID: "agent-dev-1", cleanSession: false, environment: { $0 == "PW" ? "from-env" : nil })
        #expect(configuration.clientID == "fixed" && configuration.cleanSession == true)
        #expect(configuration.credentials?.password == "from-env")

        settings.authentication = .username("dev-1", password: .file(directory.appendingPathComponent("no").path))
        #expect(throws: ConfigError.self) { try settings.mqttConfiguration(clientID: "x", cleanSession: true) }
    }

    @Test("--broker takes HOST:PORT and nothing else")
    func brokerFlag() throws {
        let flag = try BrokerFlag("127.0.0.1:1884")
        #expect(flag.host == "127.0.0.1" && flag.port == 1884)
        for bad in ["127.0.0.1", ":1883", "host:", "host:0", "host:70000", "a:b:1", "host:x"] {
            #expect(throws: ConfigError.self, "\(bad)") { try BrokerFlag(bad) }
        }
        #expect(BrokerSettings().overriding(flag).address == "127.0.0.1:1884")
    }

    @Test("command-line flags apply over a file's settings, and refuse what cannot go together")
    func options() throws {
        let base = BrokerSettings(host: "from-file", transport: .tls(.init(caFile: "file-ca.pem")))
        var options = try BrokerOptions.parse(["--broker", "flag:1999", "--tls-cert", "c.pem", "--tls-key", "c.key"])
        var settings = try options.settings(over: base)
        #expect(settings.address == "flag:1999")
        #expect(
            settings.tls == .init(caFile: "file-ca.pem", identity: .init(certificateFile: "c.pem", keyFile: "c.key")))

        options = try BrokerOptions.parse(["--username", "u", "--password-file", "/p"])
        settings = try options.settings(over: BrokerSettings())
        #expect(settings.authentication == .username("u", password: .file("/p")) && settings.tls == nil)

        for bad in [["--tls-cert", "c.pem"], ["--tls-key", "k"], ["--broker", "nope"]] {
            #expect(throws: (any Error).self, "\(bad)") { try BrokerOptions.parse(bad) }
        }
        // What a file could have completed is checked against it.
        options = try BrokerOptions.parse(["--tls-cert", "c.pem", "--tls-key", "c.key"])
        #expect(throws: ValidationError.self) { try options.settings(over: BrokerSettings()) }
        options = try BrokerOptions.parse(["--password-file", "/p"])
        #expect(throws: ValidationError.self) { try options.settings(over: BrokerSettings()) }
        settings = try options.settings(over: BrokerSettings(authentication: .username("file-user", password: .none)))
        #expect(settings.authentication == .username("file-user", password: .file("/p")))
    }
}
