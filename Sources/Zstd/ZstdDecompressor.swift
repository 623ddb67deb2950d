internal import CZstd

/// A reusable zstd decompression context with a hard cap on output size.
///
/// The cap is checked twice: against the content size a frame declares, before anything is allocated, and while
/// decoding, so a frame that does not declare its size (or lies about it, or is followed by more frames) still
/// cannot make the decoder produce more than `maxDecompressedSize` bytes. Oversized, corrupt and truncated input
/// are typed ``ZstdError``s; the context stays usable after any error.
public struct ZstdDecompressor: ~Copyable, @unchecked Sendable {
    // @unchecked: the context pointer is owned uniquely (non-copyable) and used only from `mutating` methods.
    private let context: OpaquePointer
    /// The most bytes one call may produce.
    public let maxDecompressedSize: Int

    /// Creates a context whose calls never produce more than `maxDecompressedSize` bytes.
    /// - Parameter maxWindowLog: the largest back-reference window (log2 bytes) a frame may ask for; bounds the
    ///   decoder's own memory. Defaults to libzstd's limit of 27 (128 MiB), lowered to fit a small cap.
    public init(maxDecompressedSize: Int, maxWindowLog: Int? = nil) throws(ZstdError) {
        precondition(maxDecompressedSize >= 0, "maxDecompressedSize must not be negative")
        guard let context = ZSTD_createDCtx() else {
            throw ZstdError(
                code: .allocationFailed, message: "cannot allocate a decompression context",
                function: "ZSTD_createDCtx")
        }
        let windowLog = maxWindowLog ?? min(27, max(10, Self.log2Ceiling(maxDecompressedSize)))
        do throws(ZstdError) {
            try zstdCall(
                "ZSTD_DCtx_setParameter", ZSTD_DCtx_setParameter(context, ZSTD_d_windowLogMax, Int32(windowLog)))
        } catch {
            ZSTD_freeDCtx(context)
            throw error
        }
        self.context = context
        self.maxDecompressedSize = maxDecompressedSize
    }

    deinit { ZSTD_freeDCtx(context) }

    /// Decompresses one or more complete frames into a new array of exactly the decoded size.
    public mutating func decompress(_ input: UnsafeRawBufferPointer) throws(ZstdError) -> [UInt8] {
        let declared = try ZstdFrame.declaredContentSize(input)
        if let declared, declared > UInt64(maxDecompressedSize) {
            throw ZstdError.overCap(declared: declared, cap: maxDecompressedSize)
        }
        // Start at the declared size (or a guess) and grow geometrically; one byte over the cap proves a bomb.
        let hardLimit = maxDecompressedSize + 1
        var capacity = min(hardLimit, declared.map { Int($0) + 1 } ?? max(4096, input.count * 4))
        var output = [UInt8]()
        var produced = 0
        ZSTD_DCtx_reset(context, ZSTD_reset_session_only)
        var inBuffer = ZSTD_inBuffer(src: input.baseAddress, size: input.count, pos: 0)
        while true {
            if output.count < capacity {
                output.append(contentsOf: repeatElement(0, count: capacity - output.count))
            }
            var lastResult = 0
            output.withUnsafeMutableBytes { out in
                var outBuffer = ZSTD_outBuffer(dst: out.baseAddress! + produced, size: out.count - produced, pos: 0)
                lastResult = ZSTD_decompressStream(context, &outBuffer, &inBuffer)
                produced += outBuffer.pos
            }
            if ZSTD_isError(lastResult) != 0 {
                ZSTD_DCtx_reset(context, ZSTD_reset_session_only)
                try zstdCall("ZSTD_decompressStream", lastResult)
            }
            if produced > maxDecompressedSize {
                ZSTD_DCtx_reset(context, ZSTD_reset_session_only)
                throw ZstdError.overCap(declared: nil, cap: maxDecompressedSize)
            }
            let inputDone = inBuffer.pos == inBuffer.size
            if lastResult == 0 && inputDone { break }
            if produced == output.count {
                capacity = min(hardLimit, max(capacity * 2, 4096))
                continue
            }
            if inputDone {
                ZSTD_DCtx_reset(context, ZSTD_reset_session_only)
                throw ZstdError(
                    code: .truncatedInput, message: "input ends inside a frame",
                    function: "ZstdDecompressor.decompress")
            }
        }
        output.removeLast(output.count - produced)
        return output
    }

    /// Decompresses one or more complete frames.
    public mutating func decompress(_ input: [UInt8]) throws(ZstdError) -> [UInt8] {
        var failure: ZstdError?
        var result: [UInt8] = []
        input.withUnsafeBytes { bytes in
            do throws(ZstdError) { result = try decompress(bytes) } catch { failure = error }
        }
        if let failure { throw failure }
        return result
    }

    /// Decompresses complete frames into `output` without allocating and returns the number of bytes written.
    /// The effective cap is the smaller of `output.count` and ``maxDecompressedSize``.
    public mutating func decompress(
        _ input: UnsafeRawBufferPointer,
        into output: UnsafeMutableRawBufferPointer
    ) throws(ZstdError) -> Int {
        let cap = min(output.count, maxDecompressedSize)
        if let declared = try ZstdFrame.declaredContentSize(input), declared > UInt64(cap) {
            throw ZstdError.overCap(declared: declared, cap: cap)
        }
        ZSTD_DCtx_reset(context, ZSTD_reset_session_only)
        var inBuffer = ZSTD_inBuffer(src: input.baseAddress, size: input.count, pos: 0)
        var outBuffer = ZSTD_outBuffer(dst: output.baseAddress, size: cap, pos: 0)
        while true {
            let result = ZSTD_decompressStream(context, &outBuffer, &inBuffer)
            if ZSTD_isError(result) != 0 {
                ZSTD_DCtx_reset(context, ZSTD_reset_session_only)
                try zstdCall("ZSTD_decompressStream", result)
            }
            let inputDone = inBuffer.pos == inBuffer.size
            if result == 0 && inputDone { return outBuffer.pos }
            if outBuffer.pos == outBuffer.size {
                // Full: the frame has more to give only if a one-byte probe produces something.
                var probe: UInt8 = 0
                let more = withUnsafeMutableBytes(of: &probe) { probeBytes -> Bool in
                    var probeBuffer = ZSTD_outBuffer(dst: probeBytes.baseAddress, size: 1, pos: 0)
                    let r = ZSTD_decompressStream(context, &probeBuffer, &inBuffer)
                    return ZSTD_isError(r) != 0 || probeBuffer.pos > 0 || r != 0
                }
                ZSTD_DCtx_reset(context, ZSTD_reset_session_only)
                if more || inBuffer.pos != inBuffer.size {
                    throw ZstdError.overCap(declared: nil, cap: cap)
                }
                return outBuffer.pos
            }
            if inputDone {
                ZSTD_DCtx_reset(context, ZSTD_reset_session_only)
                throw ZstdError(
                    code: .truncatedInput, message: "input ends inside a frame",
                    function: "ZstdDecompressor.decompress")
            }
        }
    }

    static func log2Ceiling(_ n: Int) -> Int {
        n <= 1 ? 0 : Int.bitWidth - (n - 1).leadingZeroBitCount
    }
}

extension ZstdError {
    static func overCap(declared: UInt64?, cap: Int) -> ZstdError {
        let what = declared.map { "frame declares \($0) bytes" } ?? "frame decodes to more bytes"
        return ZstdError(
            code: .sizeLimitExceeded, message: "\(what), over the cap of \(cap) bytes",
            function: "ZstdDecompressor")
    }
}
