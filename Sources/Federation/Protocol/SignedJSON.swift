public import TributaryWire

/// Signatures on the JSON messages (task specification, round announcement, metrics, acknowledgements, device
/// statuses, partials; docs/wire-format.md, "Signatures"). The signature is the object's last member,
/// `,"sig":"<base64 of the algorithm byte and the signature>"}`, and signs the message's exact bytes without
/// that member: everything before `,"sig":` followed by `}`. A reader that knows nothing of signatures still
/// reads the message (an unknown key); a reader that checks them decodes only the bytes that were signed.
public enum SignedJSON {
    static let marker = Array(#","sig":""#.utf8)

    /// `json` (one object, ending in `}`, without a `sig` member) with a signature by `signer`.
    public static func seal(_ json: [UInt8], with signer: some MessageSigner) -> [UInt8] {
        precondition(json.last == UInt8(ascii: "}") && json.count >= 2, "a JSON object")
        let signature = json.withUnsafeBytes { signer.signature(of: $0) }
        var out = Array(json.dropLast())
        out += marker
        out += Array(Base64.encode([signer.algorithm.rawValue] + signature).utf8)
        out += Array(#""}"#.utf8)
        return out
    }

    /// A message split into the bytes that were signed and its signature.
    public struct Opened: Sendable, Hashable {
        /// The message without its `sig` member: what was signed, and what to decode.
        public var body: [UInt8]
        /// The scheme and the signature, if the message carries one.
        public var signature: (algorithm: SignatureAlgorithm, bytes: [UInt8])? {
            guard let raw, let first = raw.first, let algorithm = SignatureAlgorithm(rawValue: first),
                raw.count == 1 + algorithm.signatureBytes
            else { return nil }
            return (algorithm, Array(raw.dropFirst()))
        }
        /// The decoded `sig` member (algorithm byte first), if there was one.
        var raw: [UInt8]?
    }

    /// Splits off the signature member, if the message ends with one of a known algorithm's size; otherwise
    /// the body is the message.
    public static func open(_ message: [UInt8]) -> Opened {
        for algorithm in SignatureAlgorithm.allCases {
            let textCount = (algorithm.signatureBytes + 1 + 2) / 3 * 4
            let start = message.count - 2 - textCount - marker.count
            guard start >= 1, message[message.count - 2] == UInt8(ascii: "\""), message.last == UInt8(ascii: "}"),
                message[start..<(start + marker.count)].elementsEqual(marker)
            else { continue }
            let text = String(decoding: message[(start + marker.count)..<(message.count - 2)], as: UTF8.self)
            guard let raw = Base64.decode(text) else { continue }
            return Opened(body: Array(message[..<start]) + [UInt8(ascii: "}")], raw: raw)
        }
        return Opened(body: message, raw: nil)
    }

    /// Why a JSON message's signature was not accepted.
    public enum Failure: String, Error, Sendable, Hashable {
        /// No `sig` member (or one that is not base64 of a known algorithm's size).
        case unsigned
        /// A signature the key does not verify.
        case badSignature = "bad_signature"
    }

    /// The signed body of `message` when `key` verifies its signature.
    public static func verify(_ message: [UInt8], key: some MessageVerifier) -> Result<[UInt8], Failure> {
        let opened = open(message)
        guard let signature = opened.signature else { return .failure(.unsigned) }
        let valid = signature.bytes.withUnsafeBytes { sig in
            opened.body.withUnsafeBytes { key.isValid(signature: sig, of: $0) }
        }
        return valid ? .success(opened.body) : .failure(.badSignature)
    }
}
