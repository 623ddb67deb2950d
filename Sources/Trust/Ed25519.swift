import CCrypto
public import TributaryWire

/// An Ed25519 signing key (RFC 8032), held by libcrypto. Each device has one for its updates and the aggregator
/// one for everything it publishes. Signing is deterministic: the same key and message give the same 64 bytes.
public final class SigningKey: MessageSigner, @unchecked Sendable {
    // @unchecked: the EVP_PKEY is never changed after init, and libcrypto allows concurrent signing with one key
    // (each signature uses its own EVP_MD_CTX).
    let key: OpaquePointer

    init(key: OpaquePointer) { self.key = key }

    deinit { EVP_PKEY_free(key) }

    /// A new random key.
    public static func generate() throws(TrustError) -> SigningKey {
        try SigningKey(seed: OpenSSL.randomBytes(32))
    }

    /// The key of a 32-byte RFC 8032 seed (the private key).
    public convenience init(seed: [UInt8]) throws(TrustError) {
        guard seed.count == 32 else { throw TrustError(.invalidKey, "an Ed25519 seed is 32 bytes, not \(seed.count)") }
        let key = try OpenSSL.make("making an Ed25519 key") {
            EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nil, seed, seed.count)
        }
        self.init(key: key)
    }

    /// The key in a PEM file's text (PKCS #8, `-----BEGIN PRIVATE KEY-----`, as `openssl genpkey -algorithm
    /// ed25519` writes it).
    public convenience init(pem: [UInt8]) throws(TrustError) {
        guard let key = OpenSSL.reading(pem, { PEM_read_bio_PrivateKey($0, nil, nil, nil) }) else {
            throw TrustError(.invalidKey, "not a PEM private key")
        }
        guard EVP_PKEY_get_base_id(key) == EVP_PKEY_ED25519 else {
            EVP_PKEY_free(key)
            throw TrustError(.invalidKey, "the private key is not an Ed25519 key")
        }
        self.init(key: key)
    }

    /// The PEM text of the private key (PKCS #8, unencrypted: keep the file 0600).
    public func pem() throws(TrustError) -> [UInt8] {
        try OpenSSL.written("writing the private key") { PEM_write_bio_PrivateKey($0, key, nil, nil, 0, nil, nil) }
    }

    /// The 32-byte RFC 8032 seed: the secret itself (for another library's copy of the key; handle it as the
    /// key file is handled).
    public func seed() throws(TrustError) -> [UInt8] {
        var raw = [UInt8](repeating: 0, count: 32)
        var count = 32
        try OpenSSL.check("reading an Ed25519 private key") { EVP_PKEY_get_raw_private_key(key, &raw, &count) }
        return raw
    }

    /// The public half.
    public var verifyingKey: VerifyingKey {
        var raw = [UInt8](repeating: 0, count: 32)
        var count = 32
        // Cannot fail for an Ed25519 key.
        _ = EVP_PKEY_get_raw_public_key(key, &raw, &count)
        return try! VerifyingKey(raw: raw)
    }

    /// Ed25519.
    public var algorithm: SignatureAlgorithm { .ed25519 }

    /// The 64-byte signature of `message`.
    public func signature(of message: UnsafeRawBufferPointer) -> [UInt8] {
        var signature = [UInt8](repeating: 0, count: 64)
        var length = 64
        let context = EVP_MD_CTX_new()
        defer { EVP_MD_CTX_free(context) }
        let ok =
            EVP_DigestSignInit(context, nil, nil, nil, key) == 1
            && EVP_DigestSign(
                context, &signature, &length, message.baseAddress?.assumingMemoryBound(to: UInt8.self), message.count)
                == 1
        // Ed25519 signing fails only when memory runs out.
        precondition(ok && length == 64, "Ed25519 signing failed: \(OpenSSL.failure("signing"))")
        return signature
    }
}

/// An Ed25519 public key: 32 bytes, checks signatures.
public final class VerifyingKey: MessageVerifier, @unchecked Sendable, Hashable {
    // @unchecked: immutable after init; verification uses its own context.
    let key: OpaquePointer
    /// The 32 bytes (RFC 8032 encoding).
    public let raw: [UInt8]

    /// The key of 32 raw bytes.
    public init(raw: [UInt8]) throws(TrustError) {
        guard raw.count == 32 else {
            throw TrustError(.invalidKey, "an Ed25519 public key is 32 bytes, not \(raw.count)")
        }
        key = try OpenSSL.make("reading an Ed25519 public key") {
            EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nil, raw, raw.count)
        }
        self.raw = raw
    }

    /// The key of 64 hexadecimal digits (as the registry and configuration files write it).
    public convenience init(hex: String) throws(TrustError) {
        guard let bytes = Hex.decode(hex) else { throw TrustError(.invalidKey, "not 64 hexadecimal digits") }
        try self.init(raw: bytes)
    }

    /// The key in a PEM file's text (`-----BEGIN PUBLIC KEY-----`, as `openssl pkey -pubout` writes it).
    public convenience init(pem: [UInt8]) throws(TrustError) {
        guard let key = OpenSSL.reading(pem, { PEM_read_bio_PUBKEY($0, nil, nil, nil) }) else {
            throw TrustError(.invalidKey, "not a PEM public key")
        }
        defer { EVP_PKEY_free(key) }
        guard EVP_PKEY_get_base_id(key) == EVP_PKEY_ED25519 else {
            throw TrustError(.invalidKey, "the public key is not an Ed25519 key")
        }
        var raw = [UInt8](repeating: 0, count: 32)
        var count = 32
        try OpenSSL.check("reading an Ed25519 public key") { EVP_PKEY_get_raw_public_key(key, &raw, &count) }
        try self.init(raw: raw)
    }

    deinit { EVP_PKEY_free(key) }

    /// The PEM text of the key.
    public func pem() throws(TrustError) -> [UInt8] {
        try OpenSSL.written("writing the public key") { PEM_write_bio_PUBKEY($0, key) }
    }

    /// The 64 lowercase hexadecimal digits.
    public var hex: String { Hex.encode(raw) }

    /// Whether `signature` is this key's signature of `message`.
    public func isValid(signature: UnsafeRawBufferPointer, of message: UnsafeRawBufferPointer) -> Bool {
        guard signature.count == 64 else { return false }
        let context = EVP_MD_CTX_new()
        defer { EVP_MD_CTX_free(context) }
        guard EVP_DigestVerifyInit(context, nil, nil, nil, key) == 1 else {
            ERR_clear_error()
            return false
        }
        let ok = EVP_DigestVerify(
            context, signature.baseAddress?.assumingMemoryBound(to: UInt8.self), 64,
            message.baseAddress?.assumingMemoryBound(to: UInt8.self), message.count)
        ERR_clear_error()
        return ok == 1
    }

    /// The same 32 bytes.
    public static func == (a: VerifyingKey, b: VerifyingKey) -> Bool { a.raw == b.raw }
    /// Hashes the 32 bytes.
    public func hash(into hasher: inout Hasher) { hasher.combine(raw) }
}
