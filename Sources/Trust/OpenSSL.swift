import CCrypto

/// The one gateway to libcrypto: calls that return a pointer or a status, turned into a ``TrustError`` with
/// OpenSSL's own reason (the error queue is read and cleared).
enum OpenSSL {
    /// The pointer `call` returns, or an error naming `what`.
    static func make<T>(_ what: String, _ call: () -> T?) throws(TrustError) -> T {
        guard let value = call() else { throw failure(what) }
        return value
    }

    /// Checks a status of 1 (OpenSSL's success).
    static func check(_ what: String, _ call: () -> Int32) throws(TrustError) {
        guard call() == 1 else { throw failure(what) }
    }

    /// An error for `what`, with the reasons OpenSSL queued (and the queue cleared).
    static func failure(_ what: String) -> TrustError {
        var reasons: [String] = []
        while case let code = ERR_get_error(), code != 0 {
            var buffer = [CChar](repeating: 0, count: 256)
            ERR_error_string_n(code, &buffer, buffer.count)
            reasons.append(String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        return TrustError(.crypto, reasons.isEmpty ? what : "\(what): \(reasons.joined(separator: "; "))")
    }

    /// Random bytes from OpenSSL's generator.
    static func randomBytes(_ count: Int) throws(TrustError) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        try check("drawing random bytes") { RAND_bytes(&bytes, Int32(count)) }
        return bytes
    }

    /// Runs `body` with a new memory BIO and returns what it wrote (PEM text).
    static func written(_ what: String, _ body: (OpaquePointer) -> Int32) throws(TrustError) -> [UInt8] {
        let bio = try make("making a memory buffer") { BIO_new(BIO_s_mem()) }
        defer { BIO_free(bio) }
        try check(what) { body(bio) }
        var data: UnsafeMutablePointer<CChar>?
        let count = tributary_bio_bytes(bio, &data)
        guard count > 0, let data else { return [] }
        return data.withMemoryRebound(to: UInt8.self, capacity: count) {
            Array(UnsafeBufferPointer(start: $0, count: count))
        }
    }

    /// Runs `body` with a read-only memory BIO over `bytes`.
    static func reading<T>(_ bytes: [UInt8], _ body: (OpaquePointer) -> T?) -> T? {
        bytes.withUnsafeBytes { raw -> T? in
            guard let bio = BIO_new_mem_buf(raw.baseAddress, Int32(raw.count)) else { return nil }
            defer { BIO_free(bio) }
            return body(bio)
        }
    }
}
