/// Why a binary payload was rejected. Every decoder in Tributary reports rejections with this type, so services
/// can count them by ``Code`` (a metric label) and log the message.
public struct WireError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The reason, as a stable name. A struct over a private enum so that codes can be added.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        fileprivate enum Value: Hashable, Sendable {
            case truncated, badMagic, unsupportedVersion, wrongMessageType, badChecksum, lengthMismatch
            case countOutOfRange, indexOutOfRange, unsorted, duplicate, nonFinite, valueOutOfRange, malformed
            case tooLarge, mismatch, decompression
        }
        fileprivate let value: Value

        /// The input ends before a field that must be there.
        public static let truncated = Code(value: .truncated)
        /// The magic bytes are not this format's.
        public static let badMagic = Code(value: .badMagic)
        /// A format version this build does not read.
        public static let unsupportedVersion = Code(value: .unsupportedVersion)
        /// A valid header of another message type.
        public static let wrongMessageType = Code(value: .wrongMessageType)
        /// The CRC32C does not match the bytes.
        public static let badChecksum = Code(value: .badChecksum)
        /// Declared and actual lengths differ (including trailing bytes).
        public static let lengthMismatch = Code(value: .lengthMismatch)
        /// A count (channels, samples, k, …) outside its allowed range.
        public static let countOutOfRange = Code(value: .countOutOfRange)
        /// An index at or beyond its dimension.
        public static let indexOutOfRange = Code(value: .indexOutOfRange)
        /// Values that must be increasing are not.
        public static let unsorted = Code(value: .unsorted)
        /// A value that must be unique repeats.
        public static let duplicate = Code(value: .duplicate)
        /// NaN or infinity where a finite number is required.
        public static let nonFinite = Code(value: .nonFinite)
        /// A field with a value outside its allowed range.
        public static let valueOutOfRange = Code(value: .valueOutOfRange)
        /// A field that cannot be parsed (an overlong varint, an unknown enumeration value).
        public static let malformed = Code(value: .malformed)
        /// A payload over the configured size limit.
        public static let tooLarge = Code(value: .tooLarge)
        /// A field that contradicts what the receiver expects (dimension, channel count, task).
        public static let mismatch = Code(value: .mismatch)
        /// The compressed body did not decompress.
        public static let decompression = Code(value: .decompression)

        /// A short, stable name for logs and metric labels.
        public var description: String {
            switch value {
            case .truncated: "truncated"
            case .badMagic: "bad_magic"
            case .unsupportedVersion: "unsupported_version"
            case .wrongMessageType: "wrong_message_type"
            case .badChecksum: "bad_checksum"
            case .lengthMismatch: "length_mismatch"
            case .countOutOfRange: "count_out_of_range"
            case .indexOutOfRange: "index_out_of_range"
            case .unsorted: "unsorted"
            case .duplicate: "duplicate"
            case .nonFinite: "non_finite"
            case .valueOutOfRange: "value_out_of_range"
            case .malformed: "malformed"
            case .tooLarge: "too_large"
            case .mismatch: "mismatch"
            case .decompression: "decompression"
            }
        }
    }

    /// The reason.
    public var code: Code
    /// What exactly was wrong, for logs.
    public var message: String
    /// Byte offset where the problem was found, when known.
    public var offset: Int?

    /// Creates an error.
    public init(_ code: Code, _ message: String, offset: Int? = nil) {
        self.code = code
        self.message = message
        self.offset = offset
    }

    /// `code: message (at byte N)`.
    public var description: String {
        "\(code): \(message)" + (offset.map { " (at byte \($0))" } ?? "")
    }
}
