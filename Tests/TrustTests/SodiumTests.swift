import Sodium
import Testing
import TributaryWire
import Trust

/// libsodium (the aggregator's) and libcrypto (the agent's) make and accept the same Ed25519 signatures.
@Suite struct SodiumTests {
    @Test("RFC 8032 test 1 through libsodium: the seed's public key and the empty message's signature")
    func rfcVector() throws {
        let key = try SodiumSigningKey(seed: Hex.decode(Ed25519Tests.seed)!)
        #expect(Hex.encode(key.publicKey) == Ed25519Tests.publicKey)
        let signature = [UInt8]().withUnsafeBytes { key.signature(of: $0) }
        #expect(Hex.encode(signature) == Ed25519Tests.signature)
    }

    @Test("either library verifies the other's signatures, refuses changed messages, signatures and keys")
    func interoperate() throws {
        let openssl = try SigningKey.generate()
        let sodium = try SodiumSigningKey(seed: try openssl.seed())
        #expect(sodium.publicKey == openssl.verifyingKey.raw)
        let verifier = try SodiumVerifyingKey(raw: openssl.verifyingKey.raw)
        let message = Array("round 7 of task har, device watch-1".utf8)
        let a = message.withUnsafeBytes { openssl.signature(of: $0) }
        let b = message.withUnsafeBytes { sodium.signature(of: $0) }
        #expect(a == b, "Ed25519 is deterministic: one key, one message, one signature")
        func valid(_ s: [UInt8], _ m: [UInt8], _ k: some MessageVerifier) -> Bool {
            s.withUnsafeBytes { s in m.withUnsafeBytes { k.isValid(signature: s, of: $0) } }
        }
        #expect(valid(a, message, verifier) && valid(b, message, openssl.verifyingKey))
        var changed = message
        changed[3] ^= 1
        #expect(!valid(a, changed, verifier))
        var flipped = a
        flipped[10] ^= 4
        #expect(!valid(flipped, message, verifier))
        #expect(!valid(Array(a.prefix(63)), message, verifier))
        let stranger = try SodiumVerifyingKey(raw: try SigningKey.generate().verifyingKey.raw)
        #expect(!valid(a, message, stranger))
        #expect(throws: SodiumEd25519.Failure.self) { try SodiumVerifyingKey(raw: [1, 2, 3]) }
        #expect(throws: SodiumEd25519.Failure.self) { try SodiumSigningKey(seed: []) }
    }
}
