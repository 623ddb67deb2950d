import MQTT
import Testing
import TributaryTestSupport

extension BrokerSuite {
    @Suite struct Security {
        @Test("TLS with the right CA connects and carries messages; a client certificate is accepted")
        func tlsRightCA() async throws {
            var options = MosquittoBroker.Options()
            options.tls = true
            options.requireClientCertificate = true
            try await withBroker(options) { broker in
                let certificates = try #require(broker.certificates)
                var configuration = broker.clientConfiguration("tls")
                configuration.tls = MQTTTLSConfiguration(
                    caFile: certificates.caCertificate.path,
                    certificateFile: certificates.clientCertificate.path,
                    keyFile: certificates.clientKey.path
                )
                let client = try MQTTClient(configuration: configuration)
                let collector = MessageCollector(client)
                try await client.connect()
                try await client.subscribe("t/tls")
                try await client.publishConfirmed("t/tls", payload: Array("secret".utf8))
                #expect(await collector.wait(for: 1).first?.payload == Array("secret".utf8))
                await client.disconnect()
            }
        }

        @Test("TLS against a CA that did not sign the broker's certificate fails with a typed, non-retriable error")
        func tlsWrongCA() async throws {
            var options = MosquittoBroker.Options()
            options.tls = true
            try await withBroker(options) { broker in
                let certificates = try #require(broker.certificates)
                var configuration = broker.clientConfiguration("tls-wrong")
                configuration.tls = MQTTTLSConfiguration(caFile: certificates.wrongCACertificate.path)
                let client = try MQTTClient(configuration: configuration)
                let error = await #expect(throws: MQTTError.self) { try await client.connect() }
                #expect(error?.code == .tls)
                #expect(error?.isRetriable == false)
                #expect(!client.isConnected)
            }
        }

        @Test(
            "wrong credentials are a typed notAuthorized error; right ones connect",
            arguments: [MQTTProtocolVersion.v311, .v5])
        func credentials(version: MQTTProtocolVersion) async throws {
            var options = MosquittoBroker.Options()
            options.users = ["device-1": "correct horse"]
            try await withBroker(options) { broker in
                var bad = broker.clientConfiguration("bad", version: version)
                bad.credentials = MQTTCredentials(username: "device-1", password: "battery staple")
                let rejected = try MQTTClient(configuration: bad)
                let error = await #expect(throws: MQTTError.self) { try await rejected.connect() }
                #expect(error?.code == .notAuthorized)
                #expect(error?.isRetriable == false)

                var anonymous = broker.clientConfiguration("anon", version: version)
                anonymous.credentials = nil
                let anon = try MQTTClient(configuration: anonymous)
                let anonError = await #expect(throws: MQTTError.self) { try await anon.connect() }
                #expect(anonError?.code == .notAuthorized)

                var good = broker.clientConfiguration("good", version: version)
                good.credentials = MQTTCredentials(username: "device-1", password: "correct horse")
                let accepted = try MQTTClient(configuration: good)
                try await accepted.connect()
                #expect(accepted.isConnected)
                await accepted.disconnect()
            }
        }

        @Test("a broker that is not there is a typed, retriable connectionFailed error")
        func unreachable() async throws {
            let port = try FreePort.pick()
            let client = try MQTTClient(configuration: MQTTConfiguration(port: port, clientID: "nobody-home"))
            let error = await #expect(throws: MQTTError.self) { try await client.connect() }
            #expect(error?.code == .connectionFailed)
            #expect(error?.isRetriable == true)
            // The client can try again later: a second attempt fails the same way rather than trapping.
            let again = await #expect(throws: MQTTError.self) { try await client.connect() }
            #expect(again?.code == .connectionFailed)
        }
    }
}
