import CCrypto

/// A TLS private key: ECDSA on P-256, for the fleet CA, the broker and each client's certificate.
public final class TLSKey: @unchecked Sendable {
    // @unchecked: immutable after init.
    let key: OpaquePointer

    init(key: OpaquePointer) { self.key = key }
    deinit { EVP_PKEY_free(key) }

    /// A new key.
    public static func generate() throws(TrustError) -> TLSKey {
        TLSKey(key: try OpenSSL.make("making a P-256 key") { tributary_p256_key() })
    }

    /// The key in PEM text (any private key OpenSSL reads).
    public convenience init(pem: [UInt8]) throws(TrustError) {
        guard let key = OpenSSL.reading(pem, { PEM_read_bio_PrivateKey($0, nil, nil, nil) }) else {
            throw TrustError(.invalidKey, "not a PEM private key")
        }
        self.init(key: key)
    }

    /// PEM text (PKCS #8, unencrypted: keep the file 0600).
    public func pem() throws(TrustError) -> [UInt8] {
        try OpenSSL.written("writing the private key") { PEM_write_bio_PrivateKey($0, key, nil, nil, 0, nil, nil) }
    }
}

/// An X.509 certificate.
public final class Certificate: @unchecked Sendable {
    // @unchecked: immutable after init.
    let cert: OpaquePointer

    init(cert: OpaquePointer) { self.cert = cert }
    deinit { X509_free(cert) }

    /// The certificate in PEM text.
    public convenience init(pem: [UInt8]) throws(TrustError) {
        guard let cert = OpenSSL.reading(pem, { PEM_read_bio_X509($0, nil, nil, nil) }) else {
            throw TrustError(.invalidKey, "not a PEM certificate")
        }
        self.init(cert: cert)
    }

    /// PEM text.
    public func pem() throws(TrustError) -> [UInt8] {
        try OpenSSL.written("writing the certificate") { PEM_write_bio_X509($0, cert) }
    }

    /// The subject's common name (a device's id).
    public var commonName: String? {
        guard let name = X509_get_subject_name(cert) else { return nil }
        var buffer = [CChar](repeating: 0, count: 256)
        let count = X509_NAME_get_text_by_NID(name, NID_commonName, &buffer, Int32(buffer.count))
        guard count >= 0 else { return nil }
        return String(decoding: buffer.prefix(Int(count)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The serial number.
    public var serial: UInt64 {
        var value: UInt64 = 0
        _ = ASN1_INTEGER_get_uint64(&value, X509_get0_serialNumber(cert))
        return value
    }

    /// Whether `issuer`'s key signed this certificate.
    public func isSigned(by issuer: Certificate) -> Bool {
        guard let key = X509_get0_pubkey(issuer.cert) else { return false }
        defer { ERR_clear_error() }
        return X509_verify(cert, key) == 1
    }
}

/// The fleet's certificate authority: it signs the broker's and every client's certificate, and the list of
/// revoked ones the broker reads (`crlfile`).
public struct CertificateAuthority: Sendable {
    /// The CA's key.
    public let key: TLSKey
    /// Its self-signed certificate (what every client and the broker trust).
    public let certificate: Certificate

    /// A CA from its files' contents.
    public init(key: TLSKey, certificate: Certificate) {
        self.key = key
        self.certificate = certificate
    }

    /// A new CA named `name`, valid for `days`.
    public static func create(name: String, days: Int) throws(TrustError) -> CertificateAuthority {
        let key = try TLSKey.generate()
        let cert = try Self.build(
            commonName: name, publicKey: key.key, serial: try randomSerial(), days: days, issuer: nil, signer: key.key,
            extensions: [
                (NID_basic_constraints, "critical,CA:TRUE"), (NID_key_usage, "critical,keyCertSign,cRLSign"),
                (NID_subject_key_identifier, "hash"),
            ])
        return CertificateAuthority(key: key, certificate: cert)
    }

    /// What a certificate is for.
    public enum Usage: Sendable, Hashable {
        /// A TLS server (the broker) reachable at these names: IP addresses and DNS names.
        case server(names: [String])
        /// A TLS client (device, aggregator, replay): its common name is its MQTT identity.
        case client
    }

    /// A certificate for `commonName` and the public half of `key`, valid for `days`.
    public func issue(commonName: String, key subject: TLSKey, usage: Usage, days: Int) throws(TrustError)
        -> Certificate
    {
        var extensions: [(Int32, String)] = [
            (NID_basic_constraints, "critical,CA:FALSE"), (NID_authority_key_identifier, "keyid"),
        ]
        switch usage {
        case .server(let names):
            let alt = names.map { name in
                name.utf8.allSatisfy { $0 == 46 || (48...57).contains($0) } ? "IP:\(name)" : "DNS:\(name)"
            }
            extensions += [
                (NID_key_usage, "critical,digitalSignature,keyAgreement"), (NID_ext_key_usage, "serverAuth"),
                (NID_subject_alt_name, alt.joined(separator: ",")),
            ]
        case .client:
            extensions += [
                (NID_key_usage, "critical,digitalSignature,keyAgreement"), (NID_ext_key_usage, "clientAuth"),
            ]
        }
        return try Self.build(
            commonName: commonName, publicKey: subject.key, serial: try Self.randomSerial(), days: days,
            issuer: certificate, signer: key.key, extensions: extensions)
    }

    /// A certificate revocation list of `serials`, valid for `days` (PEM text, for Mosquitto's `crlfile`).
    public func revocationList(serials: [UInt64], days: Int) throws(TrustError) -> [UInt8] {
        let crl = try OpenSSL.make("making a revocation list") { X509_CRL_new() }
        defer { X509_CRL_free(crl) }
        try OpenSSL.check("setting the list's version") { X509_CRL_set_version(crl, 1) }
        try OpenSSL.check("setting the list's issuer") {
            X509_CRL_set_issuer_name(crl, X509_get_subject_name(certificate.cert))
        }
        let last = try OpenSSL.make("setting the list's dates") { X509_gmtime_adj(nil, 0) }
        defer { ASN1_TIME_free(last) }
        let next = try OpenSSL.make("setting the list's dates") { X509_gmtime_adj(nil, days * 86_400) }
        defer { ASN1_TIME_free(next) }
        try OpenSSL.check("setting the list's dates") { X509_CRL_set1_lastUpdate(crl, last) }
        try OpenSSL.check("setting the list's dates") { X509_CRL_set1_nextUpdate(crl, next) }
        for serial in serials {
            let revoked = try OpenSSL.make("listing a revoked certificate") { X509_REVOKED_new() }
            let number = ASN1_INTEGER_new()
            defer { ASN1_INTEGER_free(number) }
            guard ASN1_INTEGER_set_uint64(number, serial) == 1, X509_REVOKED_set_serialNumber(revoked, number) == 1,
                X509_REVOKED_set_revocationDate(revoked, last) == 1, X509_CRL_add0_revoked(crl, revoked) == 1
            else {
                X509_REVOKED_free(revoked)
                throw OpenSSL.failure("listing a revoked certificate")
            }
        }
        try OpenSSL.check("sorting the list") { X509_CRL_sort(crl) }
        guard X509_CRL_sign(crl, key.key, EVP_sha256()) > 0 else { throw OpenSSL.failure("signing the list") }
        return try OpenSSL.written("writing the list") { PEM_write_bio_X509_CRL($0, crl) }
    }

    static func randomSerial() throws(TrustError) -> UInt64 {
        let bytes = try OpenSSL.randomBytes(8)
        let value = bytes.reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        return value & 0x7FFF_FFFF_FFFF_FFFF | 1
    }

    static func build(
        commonName: String, publicKey: OpaquePointer, serial: UInt64, days: Int, issuer: Certificate?,
        signer: OpaquePointer, extensions: [(Int32, String)]
    ) throws(TrustError) -> Certificate {
        let cert = try OpenSSL.make("making a certificate") { X509_new() }
        let result = Certificate(cert: cert)
        try OpenSSL.check("setting the certificate's version") { X509_set_version(cert, 2) }
        try OpenSSL.check("setting the serial number") {
            ASN1_INTEGER_set_uint64(X509_get_serialNumber(cert), serial)
        }
        guard X509_gmtime_adj(X509_getm_notBefore(cert), -300) != nil,
            X509_gmtime_adj(X509_getm_notAfter(cert), days * 86_400) != nil
        else { throw OpenSSL.failure("setting the validity") }
        try OpenSSL.check("setting the public key") { X509_set_pubkey(cert, publicKey) }
        let name = try OpenSSL.make("naming the subject") { X509_get_subject_name(cert) }
        try OpenSSL.check("naming the subject") {
            X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, commonName, -1, -1, 0)
        }
        try OpenSSL.check("naming the issuer") {
            X509_set_issuer_name(cert, issuer.map { X509_get_subject_name($0.cert) } ?? name)
        }
        for (nid, value) in extensions {
            try OpenSSL.check("adding the extension \(value)") {
                tributary_add_extension(cert, issuer?.cert ?? cert, nid, value)
            }
        }
        guard X509_sign(cert, signer, EVP_sha256()) > 0 else { throw OpenSSL.failure("signing the certificate") }
        return result
    }
}
