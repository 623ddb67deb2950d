import Foundation
import MQTT
import Testing
import TributaryTestSupport

extension BrokerSuite {
    @Suite struct ShippedConfigs {
        static func settings(_ name: String) throws -> [(key: String, value: String)] {
            let text = try String(contentsOf: Repository.mosquittoConfig(name), encoding: .utf8)
            return text.split(separator: "\n").compactMap { line in
                let trimmed = line.trimmingCharacters(in: .whitespaces)
                guard !trimmed.isEmpty, !trimmed.hasPrefix("#") else { return nil }
                let parts = trimmed.split(separator: " ", maxSplits: 1)
                return (String(parts[0]), parts.count > 1 ? String(parts[1]) : "")
            }
        }

        @Test("dev.conf listens on loopback only; secure.conf has no anonymous access and no plain listener")
        func securityDefaults() throws {
            let dev = try Self.settings("dev.conf")
            let devListeners = dev.filter { $0.key == "listener" }
            #expect(!devListeners.isEmpty)
            #expect(devListeners.allSatisfy { $0.value.hasSuffix(" 127.0.0.1") })
            let secure = try Self.settings("secure.conf")
            #expect(secure.contains { $0.key == "allow_anonymous" && $0.value == "false" })
            #expect(secure.contains { $0.key == "password_file" })
            #expect(secure.contains { $0.key == "acl_file" })
            #expect(secure.filter { $0.key == "listener" }.map(\.value) == ["8883"])
            #expect(secure.contains { $0.key == "certfile" })
        }

        @Test(
            "both configs raise the silent-drop queue limit and cap packet size",
            arguments: ["dev.conf", "secure.conf"])
        func limits(name: String) throws {
            let settings = try Self.settings(name)
            let queued = settings.first { $0.key == "max_queued_messages" }.flatMap { Int($0.value) }
            #expect((queued ?? 0) >= 100_000)
            let packet = settings.first { $0.key == "max_packet_size" }.flatMap { Int($0.value) }
            #expect(packet.map { $0 >= 8 << 20 && $0 <= 64 << 20 } == true)
        }

        @Test("secure.conf with the shipped ACL: a device publishes only under its own topics")
        func aclConfinesDevices() async throws {
            var options = MosquittoBroker.Options()
            options.template = Repository.mosquittoConfig("secure.conf")
            options.tls = true
            options.users = ["device-1": "pw-1", "device-2": "pw-2", "aggregator": "pw-agg"]
            options.aclFile = Repository.mosquittoConfig("acl")
            try await withBroker(options) { broker in
                func client(_ user: String, _ password: String?) throws -> MQTTClient {
                    var configuration = broker.clientConfiguration(user, version: .v5)
                    configuration.credentials = password.map { MQTTCredentials(username: user, password: $0) }
                    return try MQTTClient(configuration: configuration)
                }
                let anonymous = try client("nobody", nil)
                let refused = await #expect(throws: MQTTError.self) { try await anonymous.connect() }
                #expect(refused?.code == .notAuthorized)

                let aggregator = try client("aggregator", "pw-agg")
                let updates = MessageCollector(aggregator)
                try await aggregator.connect()
                try await aggregator.subscribe("tributary/v1/fl/har/update/+")
                let device2 = try client("device-2", "pw-2")
                let device2Inbox = MessageCollector(device2)
                try await device2.connect()
                try await device2.subscribe("tributary/v1/dev/device-2/#")

                let device1 = try client("device-1", "pw-1")
                try await device1.connect()
                try await device1.publishConfirmed("tributary/v1/fl/har/update/device-1", payload: [1])
                let spoofed = await #expect(throws: MQTTError.self) {
                    try await device1.publishConfirmed("tributary/v1/fl/har/update/device-2", payload: [2])
                }
                #expect(spoofed?.code == .notAuthorized)
                let intrusion = await #expect(throws: MQTTError.self) {
                    try await device1.publishConfirmed("tributary/v1/dev/device-2/status", payload: [3])
                }
                #expect(intrusion?.code == .notAuthorized)
                try await device2.publishConfirmed("tributary/v1/dev/device-2/status", payload: [4])

                #expect(await updates.wait(for: 1).map(\.topic) == ["tributary/v1/fl/har/update/device-1"])
                #expect(await device2Inbox.wait(for: 1).map(\.payload) == [[4]])
                try await Task.sleep(for: .milliseconds(200))
                #expect(updates.messages.count == 1)
                #expect(device2Inbox.messages.count == 1)
                await device1.disconnect()
                await device2.disconnect()
                await aggregator.disconnect()
            }
        }
    }
}
