/// How the values of a sparse update travel.
public enum ValueEncoding: UInt8, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// IEEE single precision: exact, 4 bytes per value.
    case float32 = 0
    /// IEEE half precision: 2 bytes per value, ~3 significant digits.
    case float16 = 1
    /// Signed 8-bit integers with one float scale per block of ``UpdateFormat/int8BlockSize`` values.
    case int8 = 2
    /// Sign only, times one shared magnitude (the mean |value|), as in Sparse Ternary Compression: 1 bit per value.
    case ternary = 3

    /// The name used in configurations and tools.
    public var description: String {
        switch self {
        case .float32: "float32"
        case .float16: "float16"
        case .int8: "int8"
        case .ternary: "ternary"
        }
    }

    /// Parses a name written by ``description``.
    public init?(name: String) {
        guard let match = Self.allCases.first(where: { $0.description == name }) else { return nil }
        self = match
    }
}

/// How the indices of a sparse update travel; chosen per message, whichever is smaller.
public enum IndexEncoding: UInt8, Sendable, Hashable, CaseIterable {
    /// Gaps between consecutive sorted indices (first index, then differences ≥ 1) as LEB128 varints.
    case deltaVarint = 0
    /// One bit per parameter, set where a value is present (⌈n/8⌉ bytes).
    case bitmap = 1
    /// No indices: every parameter is present, in order (k = n).
    case dense = 2
    /// Plain little-endian u32 indices, strictly increasing (for the simplest senders).
    case raw32 = 3
}

/// The binary layout shared by updates and models.
///
/// | size | field |
/// |---|---|
/// | 4 | magic `54 55 50 44` ("TUPD") |
/// | 1 | version (1) |
/// | 1 | message type: `0x20` update, `0x30` dense model, `0x31` sparse model delta |
/// | 1 | flags: bit 0 body zstd-compressed, bit 1 signature trailer, bit 2 metrics trailer, bit 3 epoch |
/// | 1 | value encoding (``ValueEncoding``) |
/// | 1 | index encoding (``IndexEncoding``) |
/// | 1 + t | task id: length (1…64) then UTF-8 |
/// | 4 | round (u32) |
/// | 1 + d | device id: length (0…64) then UTF-8 (empty for models) |
/// | 4 | sample weight (u32): samples behind the update |
/// | 4 | model dimension n (u32, ≥ 1) |
/// | 4 | k: values carried (u32, ≤ n) |
/// | 8 | hash of the global model the update was computed against (models: of their own parameters) |
/// | 4 | body length in bytes as sent (u32) |
/// | 4 | uncompressed body length (u32) |
/// | body | indices, then values (see ``IndexEncoding`` and ``ValueEncoding``), zstd-compressed if flagged |
/// | 8 | federation epoch (u64), if flag bit 3: the aggregator state the message belongs to (models, deltas) |
/// | 1 + 5m | metrics trailer, if flagged: count m (1…16), then m × (id u8, strictly increasing; value f32, finite) |
/// | 2 + s | signature trailer, if flagged: length (u16) then bytes (verified by the security layer) |
/// | 4 | CRC32C of everything before |
public enum UpdateFormat {
    /// "TUPD" as a little-endian u32.
    public static let magic: UInt32 = 0x4450_5554
    /// Format version.
    public static let version: UInt8 = 1
    /// Values per scale block in ``ValueEncoding/int8``.
    public static let int8BlockSize = 256
    /// Most metrics an update carries.
    public static let maxMetrics = 16

    /// The ids of the metrics an update may carry (the metrics trailer, flag bit 2).
    public enum Metric {
        /// Hold-out accuracy, on the device's held-out windows, of the global model the update was trained from.
        public static let holdoutAccuracy: UInt8 = 1
    }

    /// Where the flags byte is (after magic, version and message type).
    public static let flagsOffset = 6
    /// Longest task or device id, in bytes.
    public static let maxIdentifierLength = 64

    /// Message types.
    public enum MessageType: UInt8, Sendable, Hashable {
        /// A sparse update from a device.
        case update = 0x20
        /// A full model from the aggregator (k = n).
        case denseModel = 0x30
        /// A sparse change to a previous model (its hash is the base).
        case sparseModelDelta = 0x31
    }
}
