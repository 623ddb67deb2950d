/// Detects gaps, duplicates, late (reordered) batches and counter restarts in a stream's sequence numbers,
/// with wrap-around arithmetic on 32 bits and a 64-batch memory of what was seen.
public struct SequenceTracker: Sendable, Hashable {
    /// What a sequence number means for the stream.
    public enum Verdict: Sendable, Hashable {
        /// The next expected batch (or the first).
        case inOrder
        /// Newer than expected: `missing` batches were skipped (they may still arrive late).
        case gap(missing: UInt32)
        /// Seen before.
        case duplicate
        /// Older than the newest seen but not seen before: arrived out of order.
        case late
        /// The sender's counter started over (a reboot): tracking restarts from here.
        case restart
    }

    /// Batches reported missing by gaps.
    public private(set) var missing: Int = 0
    /// Duplicates seen.
    public private(set) var duplicates: Int = 0
    /// Late (reordered) batches seen.
    public private(set) var late: Int = 0
    /// Counter restarts seen.
    public private(set) var restarts: Int = 0
    var newest: UInt32?
    /// Bit i set: `newest - i` was seen.
    var seen: UInt64 = 0

    /// A fresh tracker.
    public init() {}

    /// Records `sequence` and classifies it.
    public mutating func observe(_ sequence: UInt32) -> Verdict {
        guard let top = newest else {
            newest = sequence
            seen = 1
            return .inOrder
        }
        let ahead = Int64(Int32(bitPattern: sequence &- top))
        if ahead > 0 {
            seen = ahead >= 64 ? 1 : (seen << UInt64(ahead)) | 1
            newest = sequence
            if ahead == 1 { return .inOrder }
            missing += Int(ahead - 1)
            return .gap(missing: UInt32(ahead - 1))
        }
        let behind = -ahead
        if behind < 64 {
            if seen & (1 << UInt64(behind)) != 0 {
                duplicates += 1
                return .duplicate
            }
            seen |= 1 << UInt64(behind)
            late += 1
            return .late
        }
        if sequence < 64 {
            // Far behind and near zero: the sender restarted its counter.
            restarts += 1
            newest = sequence
            seen = 1
            return .restart
        }
        late += 1
        return .late
    }
}
