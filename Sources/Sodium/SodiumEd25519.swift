import CSodium
public import TributaryWire

/// Ed25519 (RFC 8032) through libsodium, for the aggregator, which checks one signature per update and signs one
/// acknowledgement per update: libsodium checks in half of libcrypto's time on x86-64 and signs in 70 % of it.
/// Signatures are the same bytes libcrypto makes (Ed25519 is deterministic), so either side may use either library.
public enum SodiumEd25519 {
    /// libsodium's initialisation, once per process (it is safe to call from any thread).
    static let ready: Bool = sodium_init() >= 0

    /// Why a key was not accepted.
    public struct Failure: Error, Sendable, Hashable, CustomStringConvertible {
        /// What was wrong.
        public var description: String
    }
}

/// An Ed25519 signing key held by libsodium.
public final class SodiumSigningKey: MessageSigner, @unchecked Sendable {
    // @unchecked: the secret key is written once, in init; signing only reads it.
    let secret: UnsafeMutablePointer<UInt8>
    /// The public key's 32 bytes.
    public let publicKey: [UInt8]

    /// The key of a 32-byte RFC 8032 seed (the private key).
    public init(seed: [UInt8]) throws(SodiumEd25519.Failure) {
        guard SodiumEd25519.ready else { throw .init(description: "libsodium failed to initialise") }
        guard seed.count == 32 else { throw .init(description: "an Ed25519 seed is 32 bytes, not \(seed.count)") }
        secret = .allocate(capacity: 64)
        var raw = [UInt8](repeating: 0, count: 32)
        _ = crypto_sign_seed_keypair(&raw, secret, seed)
        publicKey = raw
    }

    deinit {
        sodium_memzero(secret, 64)
        secret.deallocate()
    }

    /// Ed25519.
    public var algorithm: SignatureAlgorithm { .ed25519 }

    /// The 64-byte signature of `message`.
    public func signature(of message: UnsafeRawBufferPointer) -> [UInt8] {
        var signature = [UInt8](repeating: 0, count: 64)
        _ = crypto_sign_detached(
            &signature, nil, message.baseAddress?.assumingMemoryBound(to: UInt8.self), UInt64(message.count), secret)
        return signature
    }
}

/// An Ed25519 public key checked by libsodium.
public struct SodiumVerifyingKey: MessageVerifier, Sendable, Hashable {
    /// The 32 bytes (RFC 8032 encoding).
    public let raw: [UInt8]

    /// The key of 32 raw bytes.
    public init(raw: [UInt8]) throws(SodiumEd25519.Failure) {
        guard SodiumEd25519.ready else { throw .init(description: "libsodium failed to initialise") }
        guard raw.count == 32 else {
            throw .init(description: "an Ed25519 public key is 32 bytes, not \(raw.count)")
        }
        self.raw = raw
    }

    /// Whether `signature` is this key's signature of `message`.
    public func isValid(signature: UnsafeRawBufferPointer, of message: UnsafeRawBufferPointer) -> Bool {
        guard signature.count == 64, let signatureBytes = signature.baseAddress?.assumingMemoryBound(to: UInt8.self)
        else { return false }
        return raw.withUnsafeBufferPointer { key in
            crypto_sign_verify_detached(
                signatureBytes, message.baseAddress?.assumingMemoryBound(to: UInt8.self), UInt64(message.count),
                key.baseAddress!) == 0
        }
    }
}
