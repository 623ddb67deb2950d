internal import CZstd

/// A reusable zstd compression context at a chosen level.
///
/// Create one per thread of work and reuse it: a context holds libzstd's working memory, so reusing it keeps
/// hot paths free of per-call allocation inside libzstd. The type is non-copyable, so exactly one owner frees the
/// context; it may move between threads (it is `Sendable`) but is never shared.
public struct ZstdCompressor: ~Copyable, @unchecked Sendable {
    // @unchecked: the context pointer is owned uniquely (non-copyable), and every use is a `mutating` method,
    // so no two threads can touch it at once.
    private let context: OpaquePointer
    /// The compression level every frame is written with.
    public private(set) var level: Int

    /// Creates a context that compresses at `level` (see ``Zstd/minLevel`` … ``Zstd/maxLevel``).
    /// - Parameters:
    ///   - checksum: append a 32-bit content checksum to every frame, so corruption is always detected.
    ///   - contentSize: record the decompressed size in each frame header, so a decoder can check its cap and
    ///     allocate exactly before decoding.
    public init(level: Int = Zstd.defaultLevel, checksum: Bool = true, contentSize: Bool = true) throws(ZstdError) {
        try Self.validate(level: level)
        guard let context = ZSTD_createCCtx() else {
            throw ZstdError(
                code: .allocationFailed, message: "cannot allocate a compression context",
                function: "ZSTD_createCCtx")
        }
        do throws(ZstdError) {
            try zstdCall(
                "ZSTD_CCtx_setParameter",
                ZSTD_CCtx_setParameter(context, ZSTD_c_compressionLevel, Int32(level)))
            try zstdCall(
                "ZSTD_CCtx_setParameter",
                ZSTD_CCtx_setParameter(context, ZSTD_c_checksumFlag, checksum ? 1 : 0))
            try zstdCall(
                "ZSTD_CCtx_setParameter",
                ZSTD_CCtx_setParameter(context, ZSTD_c_contentSizeFlag, contentSize ? 1 : 0))
        } catch {
            ZSTD_freeCCtx(context)
            throw error
        }
        self.context = context
        self.level = level
    }

    deinit { ZSTD_freeCCtx(context) }

    /// libzstd silently clamps out-of-range levels; a configuration mistake should be an error instead.
    private static func validate(level: Int) throws(ZstdError) {
        guard (Zstd.minLevel...Zstd.maxLevel).contains(level) else {
            throw ZstdError(
                code: .invalidParameter,
                message: "level \(level) is outside \(Zstd.minLevel)...\(Zstd.maxLevel)",
                function: "ZstdCompressor")
        }
    }

    /// Changes the level for the frames compressed from now on.
    public mutating func setLevel(_ level: Int) throws(ZstdError) {
        try Self.validate(level: level)
        try zstdCall("ZSTD_CCtx_setParameter", ZSTD_CCtx_setParameter(context, ZSTD_c_compressionLevel, Int32(level)))
        self.level = level
    }

    /// Compresses `input` into `output` as one frame (with its content size recorded) and returns the number of
    /// bytes written. Allocation-free when the context is warm. `output` should hold
    /// ``Zstd/compressBound(_:)`` bytes; a smaller buffer may fail with ``ZstdError/Code/outputTooSmall``.
    public mutating func compress(
        _ input: UnsafeRawBufferPointer,
        into output: UnsafeMutableRawBufferPointer
    ) throws(ZstdError) -> Int {
        let written = ZSTD_compress2(context, output.baseAddress, output.count, input.baseAddress, input.count)
        if ZSTD_isError(written) != 0 {
            ZSTD_CCtx_reset(context, ZSTD_reset_session_only)
            return try zstdCall("ZSTD_compress2", written)
        }
        return written
    }

    /// Compresses `input` as one frame into a new array.
    public mutating func compress(_ input: UnsafeRawBufferPointer) throws(ZstdError) -> [UInt8] {
        let bound = Zstd.compressBound(input.count)
        var failure: ZstdError?
        let result = [UInt8](unsafeUninitializedCapacity: bound) { buffer, count in
            do throws(ZstdError) {
                count = try compress(input, into: UnsafeMutableRawBufferPointer(buffer))
            } catch {
                failure = error
                count = 0
            }
        }
        if let failure { throw failure }
        return result
    }

    /// Compresses `input` as one frame into a new array.
    public mutating func compress(_ input: [UInt8]) throws(ZstdError) -> [UInt8] {
        var failure: ZstdError?
        var result: [UInt8] = []
        input.withUnsafeBytes { bytes in
            do throws(ZstdError) { result = try compress(bytes) } catch { failure = error }
        }
        if let failure { throw failure }
        return result
    }
}
