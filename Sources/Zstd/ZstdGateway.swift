internal import CZstd

/// The single gateway every libzstd call that can fail goes through: it turns a `size_t` result that encodes an
/// error into a ``ZstdError`` naming the function, and passes every other result through.
@inline(__always)
@discardableResult
func zstdCall(_ function: StaticString, _ result: Int) throws(ZstdError) -> Int {
    if ZSTD_isError(result) == 0 { return result }
    throw ZstdError(libraryResult: result, function: "\(function)")
}

extension ZstdError {
    init(libraryResult result: Int, function: String) {
        let name = String(cString: ZSTD_getErrorName(result))
        let code: Code
        switch ZSTD_getErrorCode(result) {
        case ZSTD_error_prefix_unknown:
            code = .notZstd
        case ZSTD_error_corruption_detected, ZSTD_error_checksum_wrong, ZSTD_error_literals_headerWrong,
            ZSTD_error_srcSize_wrong, ZSTD_error_frameParameter_unsupported, ZSTD_error_version_unsupported:
            code = .corruptInput
        case ZSTD_error_frameParameter_windowTooLarge:
            code = .windowTooLarge
        case ZSTD_error_dstSize_tooSmall:
            code = .outputTooSmall
        case ZSTD_error_parameter_unsupported, ZSTD_error_parameter_outOfBound,
            ZSTD_error_parameter_combination_unsupported:
            code = .invalidParameter
        case ZSTD_error_memory_allocation:
            code = .allocationFailed
        default:
            code = .library
        }
        self.init(code: code, message: name, function: function)
    }
}

/// Facts about the linked libzstd.
public enum Zstd {
    /// The version of the libzstd the process is linked against, such as `1.5.4`.
    public static var libraryVersion: String { String(cString: ZSTD_versionString()) }
    /// The smallest compression level libzstd accepts (negative levels trade ratio for speed).
    public static var minLevel: Int { Int(ZSTD_minCLevel()) }
    /// The largest compression level libzstd accepts.
    public static var maxLevel: Int { Int(ZSTD_maxCLevel()) }
    /// The level used when none is given.
    public static let defaultLevel = 3
    /// The largest output a compression of `size` bytes can produce.
    public static func compressBound(_ size: Int) -> Int { ZSTD_compressBound(size) }
}
