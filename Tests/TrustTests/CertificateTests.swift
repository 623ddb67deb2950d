import Foundation
import Testing
import Trust

@Suite struct CertificateTests {
    @Test("a CA issues server and client certificates that openssl verifies, and revokes one in a CRL")
    func issueAndRevoke() throws {
        let ca = try CertificateAuthority.create(name: "Test Fleet CA", days: 30)
        let serverKey = try TLSKey.generate()
        let server = try ca.issue(
            commonName: "broker", key: serverKey, usage: .server(names: ["127.0.0.1", "localhost"]), days: 30)
        let deviceKey = try TLSKey.generate()
        let device = try ca.issue(commonName: "d1", key: deviceKey, usage: .client, days: 30)
        #expect(device.commonName == "d1" && server.commonName == "broker")
        #expect(device.isSigned(by: ca.certificate) && server.isSigned(by: ca.certificate))
        let otherCA = try CertificateAuthority.create(name: "Other", days: 1)
        #expect(!device.isSigned(by: otherCA.certificate))
        #expect(try Certificate(pem: device.pem()).serial == device.serial)

        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("certs-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        func write(_ name: String, _ bytes: [UInt8]) throws -> String {
            let url = directory.appendingPathComponent(name)
            try Data(bytes).write(to: url)
            return url.path
        }
        let caFile = try write("ca.crt", ca.certificate.pem())
        let serverFile = try write("server.crt", server.pem())
        let deviceFile = try write("d1.crt", device.pem())
        let verifiedServer = try Tool.run(
            "/usr/bin/openssl", ["verify", "-CAfile", caFile, "-purpose", "sslserver", serverFile])
        #expect(verifiedServer.contains("OK"))
        let verifiedDevice = try Tool.run(
            "/usr/bin/openssl", ["verify", "-CAfile", caFile, "-purpose", "sslclient", deviceFile])
        #expect(verifiedDevice.contains("OK"))
        let names = try Tool.run("/usr/bin/openssl", ["x509", "-in", serverFile, "-noout", "-ext", "subjectAltName"])
        #expect(names.contains("IP Address:127.0.0.1") && names.contains("DNS:localhost"))

        let crlFile = try write("revoked.crl", ca.revocationList(serials: [device.serial], days: 30))
        #expect(
            throws: Tool.Failed.self,
            "a revoked certificate fails verification against the CRL"
        ) {
            try Tool.run(
                "/usr/bin/openssl", ["verify", "-crl_check", "-CAfile", caFile, "-CRLfile", crlFile, deviceFile])
        }
        let stillValid = try Tool.run(
            "/usr/bin/openssl", ["verify", "-crl_check", "-CAfile", caFile, "-CRLfile", crlFile, serverFile])
        #expect(stillValid.contains("OK"))
        // An empty list is valid too (no device revoked yet).
        let empty = try write("empty.crl", ca.revocationList(serials: [], days: 30))
        #expect(
            try Tool.run(
                "/usr/bin/openssl", ["verify", "-crl_check", "-CAfile", caFile, "-CRLfile", empty, deviceFile]
            )
            .contains("OK"))
    }
}
