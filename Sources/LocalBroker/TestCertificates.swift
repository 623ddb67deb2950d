public import Foundation

/// A throwaway PKI made with `openssl` at test time: a CA, a server certificate for 127.0.0.1/localhost, a client
/// certificate, and an unrelated CA that must not be trusted.
public struct TestCertificates: Sendable {
    /// The CA that signed the server and client certificates.
    public let caCertificate: URL
    /// The broker's certificate (SAN: IP 127.0.0.1, DNS localhost).
    public let serverCertificate: URL
    /// The broker's private key.
    public let serverKey: URL
    /// A client certificate signed by the CA.
    public let clientCertificate: URL
    /// The client certificate's key.
    public let clientKey: URL
    /// A CA that signed nothing here: verification against it must fail.
    public let wrongCACertificate: URL

    /// Generates all files into `directory`.
    public static func generate(in directory: URL) throws -> TestCertificates {
        let openssl = "/usr/bin/openssl"
        func path(_ name: String) -> String { directory.appendingPathComponent(name).path }
        let curve = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        try runTool(
            openssl,
            ["req", "-x509"] + curve + [
                "-keyout", path("ca.key"), "-out", path("ca.crt"),
                "-days", "2", "-subj", "/CN=Tributary Test CA",
            ])
        try runTool(
            openssl,
            ["req", "-x509"] + curve + [
                "-keyout", path("wrong-ca.key"), "-out", path("wrong-ca.crt"),
                "-days", "2", "-subj", "/CN=Untrusted CA",
            ])
        let extensions = path("server.ext")
        try "subjectAltName=IP:127.0.0.1,DNS:localhost\n".write(toFile: extensions, atomically: true, encoding: .utf8)
        for (name, subject) in [("server", "/CN=127.0.0.1"), ("client", "/CN=tributary-test-client")] {
            try runTool(
                openssl,
                ["req"] + curve + [
                    "-keyout", path("\(name).key"), "-out", path("\(name).csr"),
                    "-subj", subject,
                ])
            var sign = [
                "x509", "-req", "-in", path("\(name).csr"), "-CA", path("ca.crt"), "-CAkey", path("ca.key"),
                "-CAcreateserial", "-out", path("\(name).crt"), "-days", "2",
            ]
            if name == "server" { sign += ["-extfile", extensions] }
            try runTool(openssl, sign, in: directory)
        }
        return TestCertificates(
            caCertificate: URL(fileURLWithPath: path("ca.crt")),
            serverCertificate: URL(fileURLWithPath: path("server.crt")),
            serverKey: URL(fileURLWithPath: path("server.key")),
            clientCertificate: URL(fileURLWithPath: path("client.crt")),
            clientKey: URL(fileURLWithPath: path("client.key")),
            wrongCACertificate: URL(fileURLWithPath: path("wrong-ca.crt"))
        )
    }
}
