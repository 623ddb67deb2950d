import Foundation
import Testing
import TributaryWire
import Trust

@Suite struct Ed25519Tests {
    // RFC 8032, section 7.1, TEST 1 (empty message).
    static let seed = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"
    static let publicKey = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
    static let signature =
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"

    @Test("RFC 8032 test 1: the seed gives the public key and the signature of the empty message")
    func rfcVector() throws {
        let key = try SigningKey(seed: Hex.decode(Self.seed)!)
        #expect(key.verifyingKey.hex == Self.publicKey)
        let signature = [UInt8]().withUnsafeBytes { key.signature(of: $0) }
        #expect(Hex.encode(signature) == Self.signature)
        let verifier = try VerifyingKey(hex: Self.publicKey)
        #expect(signature.withUnsafeBytes { s in [UInt8]().withUnsafeBytes { verifier.isValid(signature: s, of: $0) } })
    }

    @Test("a signature verifies for its message and key only")
    func signVerify() throws {
        let key = try SigningKey.generate()
        let other = try SigningKey.generate()
        let message = Array("round 7 of task har".utf8)
        let signature = message.withUnsafeBytes { key.signature(of: $0) }
        func valid(_ s: [UInt8], _ m: [UInt8], _ k: VerifyingKey) -> Bool {
            s.withUnsafeBytes { s in m.withUnsafeBytes { k.isValid(signature: s, of: $0) } }
        }
        #expect(valid(signature, message, key.verifyingKey))
        #expect(!valid(signature, message, other.verifyingKey))
        var changed = message
        changed[6] ^= 1
        #expect(!valid(signature, changed, key.verifyingKey))
        var flipped = signature
        flipped[63] ^= 0x80
        #expect(!valid(flipped, message, key.verifyingKey))
        #expect(!valid(Array(signature.prefix(63)), message, key.verifyingKey))
    }

    @Test("bad keys are refused with a reason")
    func badKeys() {
        #expect(throws: TrustError.self) { try SigningKey(seed: [1, 2, 3]) }
        #expect(throws: TrustError.self) { try VerifyingKey(hex: "abc") }
        #expect(throws: TrustError.self) { try VerifyingKey(raw: [UInt8](repeating: 0, count: 31)) }
        #expect(throws: TrustError.self) { try SigningKey(pem: Array("-----BEGIN PRIVATE KEY-----\nAAAA\n".utf8)) }
        #expect(throws: TrustError.self) { try VerifyingKey(pem: Array("not pem".utf8)) }
    }

    @Test("PEM files: ours round-trip, and the openssl tool reads them and agrees on the public key")
    func pemInterop() throws {
        let key = try SigningKey.generate()
        let pem = try key.pem()
        #expect(String(decoding: pem, as: UTF8.self).hasPrefix("-----BEGIN PRIVATE KEY-----"))
        #expect(try SigningKey(pem: pem).verifyingKey == key.verifyingKey)
        let publicPEM = try key.verifyingKey.pem()
        #expect(try VerifyingKey(pem: publicPEM) == key.verifyingKey)

        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("trust-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let keyFile = directory.appendingPathComponent("device.key")
        try Data(pem).write(to: keyFile)
        let derived = try Tool.run("/usr/bin/openssl", ["pkey", "-in", keyFile.path, "-pubout"])
        #expect(try VerifyingKey(pem: Array(derived.utf8)) == key.verifyingKey)

        // A key made by the openssl tool is read by ours.
        let theirs = directory.appendingPathComponent("theirs.key")
        _ = try Tool.run("/usr/bin/openssl", ["genpkey", "-algorithm", "ed25519", "-out", theirs.path])
        let imported = try SigningKey(pem: Array(try Data(contentsOf: theirs)))
        let theirPublic = try Tool.run("/usr/bin/openssl", ["pkey", "-in", theirs.path, "-pubout"])
        #expect(try VerifyingKey(pem: Array(theirPublic.utf8)) == imported.verifyingKey)
    }
}

/// Runs a program and returns its standard output; a non-zero exit is an error.
enum Tool {
    struct Failed: Error, CustomStringConvertible {
        var description: String
    }

    static func run(_ path: String, _ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        let errors = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw Failed(
                description: "\(path) \(arguments.joined(separator: " ")): \(String(decoding: errors, as: UTF8.self))")
        }
        return String(decoding: data, as: UTF8.self)
    }
}
