import Federation
import Foundation
import Testing
import TributaryWire
import Trust
import UpdateCodec

/// docs/wire-format.md's `example signatures` block against the Swift code (tools/python/check_vectors.py checks
/// it with Python's cryptography package), and the signed messages end to end with real keys.
@Suite struct SignatureExampleTests {
    struct Example: Decodable {
        var seed: String
        var public_key: String
        var unsigned: String
        var signed_bytes: Int
        var signature: String
        var signed: String
        var json: String
        var json_signed: String
    }

    static func example() throws -> Example {
        let document = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("docs/wire-format.md")
        let text = try String(contentsOf: document, encoding: .utf8)
        let start = try #require(text.range(of: "```example signatures\n"))
        let end = try #require(text.range(of: "\n```", range: start.upperBound..<text.endIndex))
        return try JSONDecoder().decode(Example.self, from: Data(text[start.upperBound..<end.lowerBound].utf8))
    }

    @Test("the document's example: the same signed update and signed JSON, and both verify")
    func documentExample() throws {
        let example = try Self.example()
        let key = try SigningKey(seed: try #require(Hex.decode(example.seed)))
        #expect(key.verifyingKey.hex == example.public_key)
        let signed = SignStage(signer: key).apply(try #require(Hex.decode(example.unsigned)))
        #expect(Hex.encode(signed) == example.signed)
        let parts = try signed.withUnsafeBytes { try SignedMessage.verify($0, key: key.verifyingKey).get() }
        #expect(parts.signedCount == example.signed_bytes)
        #expect(Hex.encode(Array(signed[parts.signature])) == example.signature)
        let sealed = SignedJSON.seal(Array(example.json.utf8), with: key)
        #expect(String(decoding: sealed, as: UTF8.self) == example.json_signed)
        #expect(try SignedJSON.verify(sealed, key: key.verifyingKey).get() == Array(example.json.utf8))
    }

    @Test("signed JSON: a changed member, another key, an unsigned message and a moved sig are refused")
    func jsonForgeries() throws {
        let key = try SigningKey.generate()
        let ack = UpdateAck(task: "har", round: 4, device: "d1", status: .accepted).json
        let sealed = SignedJSON.seal(ack, with: key)
        #expect(try UpdateAck.decode(SignedJSON.verify(sealed, key: key.verifyingKey).get()).round == 4)
        func failure(_ bytes: [UInt8], _ verifier: VerifyingKey) -> SignedJSON.Failure? {
            if case .failure(let f) = SignedJSON.verify(bytes, key: verifier) { f } else { nil }
        }
        #expect(failure(ack, key.verifyingKey) == .unsigned)
        #expect(failure(sealed, try SigningKey.generate().verifyingKey) == .badSignature)
        var changed = String(decoding: sealed, as: UTF8.self)
        changed = changed.replacingOccurrences(of: "\"round\":4", with: "\"round\":5")
        #expect(failure(Array(changed.utf8), key.verifyingKey) == .badSignature)
        // The member anywhere but last is not a signature.
        let text = String(decoding: sealed, as: UTF8.self)
        let moved = text.dropLast() + ",\"v2\":1}"
        #expect(failure(Array(moved.utf8), key.verifyingKey) == .unsigned)
        // Readers that skip verification still read a signed message.
        #expect(try UpdateAck.decode(SignedJSON.open(sealed).body).device == "d1")
    }
}
