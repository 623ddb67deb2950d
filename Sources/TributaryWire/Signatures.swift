/// A signature scheme a message can name (the first byte of a signature: see docs/wire-format.md, "Signatures").
public enum SignatureAlgorithm: UInt8, Sendable, Hashable, CaseIterable {
    /// Ed25519 (RFC 8032): 64-byte signatures, 32-byte public keys.
    case ed25519 = 1

    /// Bytes of a signature of this scheme.
    public var signatureBytes: Int {
        switch self {
        case .ed25519: 64
        }
    }
}

/// Signs messages: the private half of a key (the trust layer's `SigningKey`; test fakes in unit tests).
public protocol MessageSigner: Sendable {
    /// The scheme its signatures follow.
    var algorithm: SignatureAlgorithm { get }
    /// The signature of every byte of `message` (``SignatureAlgorithm/signatureBytes`` long).
    func signature(of message: UnsafeRawBufferPointer) -> [UInt8]
}

/// Checks signatures: the public half of a key.
public protocol MessageVerifier: Sendable {
    /// Whether `signature` is this key's signature of exactly `message`.
    func isValid(signature: UnsafeRawBufferPointer, of message: UnsafeRawBufferPointer) -> Bool
}
