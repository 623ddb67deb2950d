internal import CZstd

/// Decodes a zstd stream that arrives in chunks (a file read piece by piece, a network stream), handing out
/// decoded bytes as they become available, with a hard cap on the total.
///
/// Feed chunks with ``feed(_:_:)``; call ``finish()`` at the end of input to learn whether the stream ended on a
/// frame boundary. Output is delivered through a reused internal buffer, so steady-state decoding does not
/// allocate.
public struct ZstdStreamDecoder: ~Copyable, @unchecked Sendable {
    // @unchecked: the context and buffer are owned uniquely (non-copyable) and used only from `mutating` methods.
    private let context: OpaquePointer
    private let buffer: UnsafeMutableRawBufferPointer
    private var lastResult = 0
    private var sawHeader = false
    /// The cap on the total number of decoded bytes.
    public let maxDecompressedSize: Int
    /// Decoded bytes delivered so far.
    public private(set) var totalOutput = 0
    /// Compressed bytes consumed so far.
    public private(set) var totalInput = 0

    /// Creates a decoder that fails with ``ZstdError/Code/sizeLimitExceeded`` once the stream would decode to more
    /// than `maxDecompressedSize` bytes.
    public init(maxDecompressedSize: Int, maxWindowLog: Int = 27) throws(ZstdError) {
        guard let context = ZSTD_createDCtx() else {
            throw ZstdError(
                code: .allocationFailed, message: "cannot allocate a decompression context",
                function: "ZSTD_createDCtx")
        }
        do throws(ZstdError) {
            try zstdCall(
                "ZSTD_DCtx_setParameter", ZSTD_DCtx_setParameter(context, ZSTD_d_windowLogMax, Int32(maxWindowLog)))
        } catch {
            ZSTD_freeDCtx(context)
            throw error
        }
        self.context = context
        self.maxDecompressedSize = maxDecompressedSize
        self.buffer = .allocate(byteCount: ZSTD_DStreamOutSize(), alignment: 16)
    }

    deinit {
        ZSTD_freeDCtx(context)
        buffer.deallocate()
    }

    /// Decodes `chunk` and calls `sink` with each run of decoded bytes (valid only during the call).
    public mutating func feed<E: Error>(
        _ chunk: UnsafeRawBufferPointer,
        _ sink: (UnsafeRawBufferPointer) throws(E) -> Void
    ) throws(StreamFailure<E>) {
        if !sawHeader && totalInput == 0 && chunk.count >= 18 {
            // Reject a declared bomb before decoding anything.
            do throws(ZstdError) {
                if let declared = try ZstdFrame.declaredContentSize(chunk), declared > UInt64(maxDecompressedSize) {
                    throw ZstdError.overCap(declared: declared, cap: maxDecompressedSize)
                }
            } catch {
                throw .zstd(error)
            }
            sawHeader = true
        }
        var input = ZSTD_inBuffer(src: chunk.baseAddress, size: chunk.count, pos: 0)
        while true {
            var output = ZSTD_outBuffer(dst: buffer.baseAddress, size: buffer.count, pos: 0)
            let result = ZSTD_decompressStream(context, &output, &input)
            if ZSTD_isError(result) != 0 {
                ZSTD_DCtx_reset(context, ZSTD_reset_session_only)
                do { try zstdCall("ZSTD_decompressStream", result) } catch { throw .zstd(error) }
            }
            lastResult = result
            if output.pos > 0 {
                totalOutput += output.pos
                if totalOutput > maxDecompressedSize {
                    ZSTD_DCtx_reset(context, ZSTD_reset_session_only)
                    throw .zstd(.overCap(declared: nil, cap: maxDecompressedSize))
                }
                do {
                    try sink(UnsafeRawBufferPointer(start: buffer.baseAddress, count: output.pos))
                } catch {
                    throw .sink(error)
                }
            }
            // Done with this chunk once it is consumed and the decoder has nothing left to flush.
            if input.pos == input.size && output.pos < output.size { break }
        }
        totalInput += chunk.count
    }

    /// Checks that the stream ended on a frame boundary, then resets the decoder for a new stream.
    public mutating func finish() throws(ZstdError) {
        defer { reset() }
        if lastResult != 0 || totalInput == 0 {
            throw ZstdError(
                code: .truncatedInput, message: "stream ends inside a frame after \(totalInput) bytes",
                function: "ZstdStreamDecoder.finish")
        }
    }

    /// Forgets the current stream and starts over.
    public mutating func reset() {
        ZSTD_DCtx_reset(context, ZSTD_reset_session_only)
        lastResult = 0
        totalOutput = 0
        totalInput = 0
        sawHeader = false
    }
}

/// A failure while streaming: either the decoder rejected the input or the caller's sink threw.
public enum StreamFailure<SinkError: Error>: Error {
    /// The zstd decoder failed.
    case zstd(ZstdError)
    /// The sink threw.
    case sink(SinkError)
}
