public import StreamCore
public import TributaryWire

/// The hot path of one sensor stream: validates each batch, tracks its sequence number, drops duplicates (and
/// late batches unless asked to keep them, so the ring stays in time order), writes the rest straight into the
/// ring, and counts everything — accepted, dropped, and rejected by reason. Nothing is silent.
public struct SensorIngest: Sendable {
    /// Sequence bookkeeping.
    public private(set) var tracker = SequenceTracker()
    /// Batches written to the ring.
    public private(set) var acceptedBatches = 0
    /// Frames written to the ring.
    public private(set) var acceptedFrames = 0
    /// Frames the ring's policy refused or dropped are counted by the ring; these are the ones we dropped.
    public private(set) var droppedDuplicates = 0
    /// Late (reordered) batches dropped.
    public private(set) var droppedLate = 0
    /// Rejected batches by reason (``WireError/Code`` name).
    public private(set) var rejected: [String: Int] = [:]
    /// The most recent rejection, for logs.
    public private(set) var lastRejection: WireError?
    /// Keep late batches instead of dropping them (the ring then may go back in time).
    public var acceptLate: Bool
    /// Largest batch accepted, in bytes.
    public var maxBytes: Int

    /// Creates an ingest for one stream.
    public init(acceptLate: Bool = false, maxBytes: Int = 1 << 20) {
        self.acceptLate = acceptLate
        self.maxBytes = maxBytes
    }

    /// All rejected batches.
    public var rejectedTotal: Int { rejected.values.reduce(0, +) }

    /// Handles one payload; returns the rejection if there was one.
    @discardableResult
    public mutating func ingest(
        _ bytes: UnsafeRawBufferPointer, into producer: inout FrameRing.Producer, ring: FrameRing
    ) -> WireError? {
        var verdict = SequenceTracker.Verdict.inOrder
        do {
            let (_, written) = try SensorBatch.decode(bytes, into: &producer, ring: ring, maxBytes: maxBytes) {
                header in
                verdict = tracker.observe(header.sequence)
                switch verdict {
                case .duplicate: return false
                case .late: return acceptLate
                default: return true
                }
            }
            switch verdict {
            case .duplicate: droppedDuplicates += 1
            case .late where !acceptLate: droppedLate += 1
            default:
                acceptedBatches += 1
                acceptedFrames += written
            }
            return nil
        } catch {
            rejected[error.code.description, default: 0] += 1
            lastRejection = error
            return error
        }
    }
}
