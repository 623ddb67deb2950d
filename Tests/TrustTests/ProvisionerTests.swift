import Federation
import Foundation
import Glibc
import Provisioning
import Testing
import TributaryTestSupport
import Trust

/// `tributary provision`: what it writes, that running it again changes nothing, that its certificates and
/// revocation list are what openssl expects, and that it prints no secret.
@Suite struct ProvisionerTests {
    /// A provisioner on a fresh fleet directory (not created yet).
    func fleet() -> Provisioner {
        var template = Array("/tmp/tributary-provision-XXXXXX".utf8CString)
        let directory = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)!) }
        return Provisioner(root: URL(fileURLWithPath: directory + "/fleet"))
    }

    func mode(_ path: String) -> mode_t {
        var info = stat()
        return stat(path, &info) == 0 ? info.st_mode & 0o777 : 0
    }

    func bytes(_ path: String) throws -> Data { try Data(contentsOf: URL(fileURLWithPath: path)) }

    /// Every file under the fleet directory with its bytes.
    func snapshot(_ provisioner: Provisioner) throws -> [String: Data] {
        let root = provisioner.layout.root.path
        var files: [String: Data] = [:]
        for case let name as String in FileManager.default.enumerator(atPath: root)! {
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: root + "/" + name, isDirectory: &isDirectory),
                !isDirectory.boolValue
            {
                files[name] = try bytes(root + "/" + name)
            }
        }
        return files
    }

    @Test("init and add-device write a CA, a broker, an aggregator and devices; a second run changes no file")
    func idempotent() throws {
        let provisioner = fleet()
        let layout = provisioner.layout
        try provisioner.initialize(.init())
        try provisioner.addDevices(["d1", "d2"])
        let first = try snapshot(provisioner)
        for file in [
            "ca/ca.key", "ca/ca.crt", "broker/server.key", "broker/server.crt", "broker/revoked.crl", "broker/acl",
            "broker/mosquitto.conf", "clients/aggregator/signing.key", "clients/aggregator/tls.crt",
            "devices/d1/signing.key", "devices/d1/signing.pub", "devices/d1/tls.key", "devices/d1/tls.crt",
            "devices/d1/ca.crt", "devices/d1/agent.yaml", "registry.json", "fleet.json",
        ] {
            #expect(first[file] != nil, "\(file) missing")
        }
        try provisioner.initialize(.init())
        try provisioner.addDevices(["d1", "d2"])
        let second = try snapshot(provisioner)
        // The revocation list carries its issue time: the one file that may differ.
        #expect(Set(first.keys) == Set(second.keys))
        for (name, data) in first where name != "broker/revoked.crl" {
            #expect(second[name] == data, "\(name) changed on the second run")
        }
        // Private keys 0600, credential folders 0700.
        for key in [
            "ca/ca.key", "broker/server.key", "devices/d1/tls.key", "devices/d1/signing.key",
            "clients/aggregator/signing.key", "clients/aggregator/tls.key",
        ] {
            #expect(mode(layout.root.path + "/" + key) == 0o600, "\(key)")
        }
        for folder in ["ca", "broker", "devices/d1", "clients/aggregator"] {
            #expect(mode(layout.root.path + "/" + folder) == 0o700, "\(folder)")
        }
        // The registry holds each device's public signing key, the one beside its private key.
        let registry = try FleetRegistry.decode(Array(try bytes(layout.registry)))
        #expect(registry.devices.map(\.id) == ["d1", "d2"])
        let d1 = try SigningKey(pem: Array(try bytes(layout.folder(device: "d1") + "/signing.key")))
        #expect(registry.devices.first?.publicKey == d1.verifyingKey.hex)
        #expect(registry.devices.allSatisfy { $0.status == .active })
        let aggregator = try SigningKey(pem: Array(try bytes(layout.folder(client: "aggregator") + "/signing.key")))
        #expect(registry.aggregatorKey == aggregator.verifyingKey.hex)
    }

    @Test("openssl verifies the broker's and the devices' certificates; the device's common name is its id")
    func certificates() throws {
        let provisioner = fleet()
        var settings = Provisioner.Settings()
        settings.brokerNames = ["mqtt.example.org", "10.0.0.7"]
        try provisioner.initialize(settings)
        try provisioner.addDevices(["watch-1"])
        let ca = provisioner.layout.caCertificate
        let device = provisioner.layout.folder(device: "watch-1") + "/tls.crt"
        _ = try Tool.run("/usr/bin/openssl", ["verify", "-CAfile", ca, "-purpose", "sslclient", device])
        _ = try Tool.run(
            "/usr/bin/openssl",
            ["verify", "-CAfile", ca, "-purpose", "sslserver", provisioner.layout.brokerCertificate])
        let subject = try Tool.run("/usr/bin/openssl", ["x509", "-in", device, "-noout", "-subject"])
        #expect(subject.contains("CN = watch-1") || subject.contains("CN=watch-1"), "\(subject)")
        let names = try Tool.run(
            "/usr/bin/openssl",
            ["x509", "-in", provisioner.layout.brokerCertificate, "-noout", "-ext", "subjectAltName"])
        #expect(names.contains("DNS:mqtt.example.org") && names.contains("IP Address:10.0.0.7"), "\(names)")
        // The broker's configuration: mutual TLS, identity as username and client id, no anonymous client.
        let conf = try String(contentsOfFile: provisioner.layout.brokerConfiguration, encoding: .utf8)
        for line in [
            "require_certificate true", "use_identity_as_username true", "use_username_as_clientid true",
            "allow_anonymous false", "crlfile \(provisioner.layout.revocationList)", "listener 8883",
        ] {
            #expect(conf.contains(line + "\n"), "\(line)")
        }
    }

    @Test(
        "revoke puts the certificate in the CRL and the device in the registry as revoked; it is never enrolled again")
    func revocation() throws {
        let provisioner = fleet()
        let layout = provisioner.layout
        try provisioner.initialize(.init())
        try provisioner.addDevices(["d1", "d2"])
        try provisioner.revoke(["d2"])
        let crl = layout.revocationList
        let ca = layout.caCertificate
        _ = try Tool.run(
            "/usr/bin/openssl",
            ["verify", "-crl_check", "-CAfile", ca, "-CRLfile", crl, layout.folder(device: "d1") + "/tls.crt"])
        #expect(throws: Tool.Failed.self) {
            try Tool.run(
                "/usr/bin/openssl",
                ["verify", "-crl_check", "-CAfile", ca, "-CRLfile", crl, layout.folder(device: "d2") + "/tls.crt"])
        }
        let registry = try FleetRegistry.decode(Array(try bytes(layout.registry)))
        #expect(registry.devices.first { $0.id == "d2" }?.status == .revoked)
        #expect(registry.devices.first { $0.id == "d1" }?.status == .active)
        #expect(throws: ProvisionError.self) { try provisioner.addDevices(["d2"]) }
        #expect(throws: ProvisionError.self) { try provisioner.revoke(["nobody"]) }
        #expect(throws: ProvisionError.self) { try provisioner.revoke(["aggregator"]) }
    }

    @Test("the ACL: devices in their own topics, a publisher on its devices' sensor topics, an observer reading")
    func accessControl() throws {
        let provisioner = fleet()
        try provisioner.initialize(.init())
        try provisioner.addDevices(["d1", "d2", "d3"])
        try provisioner.addPublisher("replay", devices: ["d1", "d2"])
        try provisioner.addObserver("dashboard")
        let acl = try String(contentsOfFile: provisioner.layout.acl, encoding: .utf8)
        #expect(acl.contains("pattern write tributary/v1/fl/+/update/%u\n"))
        #expect(acl.contains("pattern read tributary/v1/fl/+/ack/%u\n"))
        #expect(
            acl.contains(
                "user replay\ntopic write tributary/v1/dev/d1/sensor/#\ntopic write tributary/v1/dev/d2/sensor/#\n"))
        #expect(!acl.contains("dev/d3/sensor"))
        #expect(acl.contains("user dashboard\ntopic read tributary/v1/#\n"))
        // No device may write the aggregator's topics: only the aggregator has write on fl/#.
        #expect(acl.components(separatedBy: "topic readwrite tributary/v1/fl/#").count == 2)
        try provisioner.revoke(["replay"])
        let revoked = try String(contentsOfFile: provisioner.layout.acl, encoding: .utf8)
        #expect(!revoked.contains("user replay"))
    }

    @Test("bad input is refused with a reason and writes nothing")
    func badInput() throws {
        let provisioner = fleet()
        #expect(throws: ProvisionError.self) { try provisioner.addDevices(["d1"]) }
        var settings = Provisioner.Settings()
        settings.port = 0
        #expect(throws: ProvisionError.self) { try provisioner.initialize(settings) }
        #expect(!FileManager.default.fileExists(atPath: provisioner.layout.root.path))
        try provisioner.initialize(.init())
        for id in ["", "a/b", "+", "#", "aggregator"] {
            #expect(throws: ProvisionError.self) { try provisioner.addDevices([id]) }
        }
        #expect(throws: ProvisionError.self) { try provisioner.addPublisher("d9", devices: ["a/b"]) }
        #expect(try provisioner.readState()?.devices.isEmpty == true)
    }

    @Test("tributary provision run as a process: what it prints holds no key material; a bad id exits 1 with a reason")
    func commandLine() throws {
        let provisioner = fleet()
        let dir = provisioner.layout.root.path
        let tool = builtExecutable("tributary")
        var output = try Tool.run(tool, ["provision", "init", "--dir", dir, "--port", "18883"])
        output += try Tool.run(tool, ["provision", "add-device", "--dir", dir, "d1", "d2"])
        output += try Tool.run(tool, ["provision", "add-publisher", "--dir", dir, "replay", "--devices", "d1"])
        output += try Tool.run(tool, ["provision", "list", "--dir", dir])
        #expect(output.contains("d1") && output.contains("replay"))
        #expect(!output.contains("PRIVATE KEY") && !output.contains("BEGIN"))
        // No line of any private key file appears in the output.
        let keys = [
            "ca/ca.key", "broker/server.key", "devices/d1/tls.key", "devices/d1/signing.key",
            "clients/aggregator/signing.key",
        ]
        for key in keys {
            let pem = try String(contentsOfFile: dir + "/" + key, encoding: .utf8)
            for line in pem.split(separator: "\n") where !line.hasPrefix("-----") {
                #expect(!output.contains(line), "\(key) printed")
            }
        }
        #expect(try provisioner.readState()?.port == 18883)
        let invalid = #expect(throws: Tool.Failed.self) {
            try Tool.run(tool, ["provision", "add-device", "--dir", dir, "a/b"])
        }
        #expect(
            invalid?.description.contains("'a/b' is not a valid device id") == true, "\(String(describing: invalid))")
        let missing = #expect(throws: Tool.Failed.self) {
            try Tool.run(tool, ["provision", "add-device", "--dir", dir + "-none", "d1"])
        }
        #expect(missing?.description.contains("holds no fleet") == true, "\(String(describing: missing))")
    }
}
