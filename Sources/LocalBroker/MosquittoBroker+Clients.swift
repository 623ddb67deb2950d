public import BrokerConnection
import Foundation
public import MQTT

extension MosquittoBroker {
    /// How a Tributary program reaches this broker: its loopback address, TLS with the generated CA when it
    /// serves TLS.
    public var settings: BrokerSettings {
        BrokerSettings(
            host: host, port: port,
            transport: certificates.map { .tls(.init(caFile: $0.caCertificate.path)) } ?? .plaintext)
    }

    /// A client configuration pointing at this broker with a unique client id.
    public func clientConfiguration(
        _ prefix: String = "test",
        cleanSession: Bool = true,
        version: MQTTProtocolVersion = .v311
    ) -> MQTTConfiguration {
        // The settings are the broker's own: nothing to read, nothing that can fail.
        var configuration = try! settings.mqttConfiguration(
            clientID: "\(prefix)-\(UUID().uuidString.prefix(8))", cleanSession: cleanSession)
        configuration.protocolVersion = version
        configuration.reconnect = MQTTReconnectPolicy(minDelay: .milliseconds(50), maxDelay: .milliseconds(500))
        return configuration
    }

    /// A connected client; disconnect it when done.
    public func connectedClient(
        _ prefix: String = "test",
        cleanSession: Bool = true,
        version: MQTTProtocolVersion = .v311
    ) async throws -> MQTTClient {
        let client = try MQTTClient(
            configuration: clientConfiguration(
                prefix, cleanSession: cleanSession,
                version: version))
        try await client.connect()
        return client
    }
}

/// Polls `condition` until it holds or `timeout` passes; returns whether it held.
public func eventually(
    timeout: Duration = .seconds(10),
    poll: Duration = .milliseconds(10),
    _ condition: () -> Bool
) async -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if condition() { return true }
        try? await Task.sleep(for: poll)
    }
    return condition()
}
