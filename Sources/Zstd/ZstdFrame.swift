internal import CZstd

/// Header facts about a zstd frame, read without decoding it.
public enum ZstdFrame {
    /// The magic number every zstd frame starts with (little-endian on the wire).
    public static let magic: UInt32 = 0xFD2F_B528

    /// The content size the first frame in `input` declares, `nil` if the frame does not declare one.
    /// Throws ``ZstdError/Code/notZstd`` for input that is not a zstd frame and
    /// ``ZstdError/Code/truncatedInput`` when the header itself is cut short.
    public static func declaredContentSize(_ input: UnsafeRawBufferPointer) throws(ZstdError) -> UInt64? {
        guard input.count >= 4 else {
            throw ZstdError(
                code: .truncatedInput, message: "\(input.count) bytes is shorter than a frame header",
                function: "ZSTD_getFrameContentSize")
        }
        let size = ZSTD_getFrameContentSize(input.baseAddress, input.count)
        switch size {
        case UInt64.max:  // ZSTD_CONTENTSIZE_UNKNOWN
            return nil
        case UInt64.max - 1:  // ZSTD_CONTENTSIZE_ERROR
            if input.loadUnaligned(as: UInt32.self).littleEndian == magic {
                throw ZstdError(
                    code: .truncatedInput, message: "frame header is incomplete",
                    function: "ZSTD_getFrameContentSize")
            }
            throw ZstdError(
                code: .notZstd, message: "input does not start with a zstd frame",
                function: "ZSTD_getFrameContentSize")
        default:
            return size
        }
    }

    /// The content size the first frame in `input` declares; see ``declaredContentSize(_:)-(UnsafeRawBufferPointer)``.
    public static func declaredContentSize(_ input: [UInt8]) throws(ZstdError) -> UInt64? {
        var result: Result<UInt64?, ZstdError>?
        input.withUnsafeBytes { bytes in
            result = Result { () throws(ZstdError) -> UInt64? in try declaredContentSize(bytes) }
        }
        return try result!.get()
    }
}
