public import StreamCore
import Synchronization

/// What one stream's ingest counted: batches and frames accepted, rejections by reason, duplicates, late
/// batches, sequence gaps and restarts, and what the ring dropped or refused. Written by the thread that feeds
/// the ring, read from any thread (a status publisher, `/metrics`, a summary) while it runs.
public final class IngestCounters: Sendable {
    let acceptedBatches = Atomic<Int>(0)
    let acceptedFrames = Atomic<Int>(0)
    let duplicates = Atomic<Int>(0)
    let late = Atomic<Int>(0)
    let missing = Atomic<Int>(0)
    let restarts = Atomic<Int>(0)
    let nonFiniteFrames = Atomic<Int>(0)
    /// Rejections are rare: a lock is fine, and the map stays small (one entry per reason).
    let rejections = Mutex<[String: Int]>([:])
    /// The ring the accepted frames went into, for its drop counters.
    let ring: FrameRing?

    /// Counters for a stream whose frames go into `ring` (nil: they go elsewhere, such as a recording).
    public init(ring: FrameRing? = nil) {
        self.ring = ring
    }

    /// A consistent-enough copy of every counter (each one exact; taken one after the other).
    public var snapshot: IngestSnapshot {
        let ringCounters = ring?.counters ?? RingCounters()
        return IngestSnapshot(
            acceptedBatches: acceptedBatches.load(ordering: .relaxed),
            acceptedFrames: acceptedFrames.load(ordering: .relaxed),
            rejected: rejections.withLock { $0 },
            duplicates: duplicates.load(ordering: .relaxed), late: late.load(ordering: .relaxed),
            missing: missing.load(ordering: .relaxed), restarts: restarts.load(ordering: .relaxed),
            nonFiniteFrames: nonFiniteFrames.load(ordering: .relaxed),
            ringDropped: ringCounters.droppedOldest, ringRejected: ringCounters.rejectedNewest)
    }

    func reject(_ reason: String) -> Int {
        rejections.withLock { map in
            map[reason, default: 0] += 1
            return map.values.reduce(0, +)
        }
    }
}

/// The counters of an ingest at one moment (see ``IngestCounters``).
public struct IngestSnapshot: Sendable, Hashable, Codable {
    /// Batches (or, for decoded sources, chunks) written.
    public var acceptedBatches = 0
    /// Frames written.
    public var acceptedFrames = 0
    /// Rejected batches by reason (`bad_checksum`, `mismatch`, `too_large`, …).
    public var rejected: [String: Int] = [:]
    /// Batches seen before, dropped.
    public var duplicates = 0
    /// Batches older than the newest seen, dropped to keep time order (or kept, if the ingest accepts them).
    public var late = 0
    /// Batches the sender skipped, from sequence gaps (they may still arrive late).
    public var missing = 0
    /// Sender counter restarts (reboots).
    public var restarts = 0
    /// Frames of a decoded source with a NaN or infinite value, skipped.
    public var nonFiniteFrames = 0
    /// Frames the ring discarded to make room (drop-oldest).
    public var ringDropped = 0
    /// Frames the ring refused because it was full (reject-newest).
    public var ringRejected = 0

    /// An empty snapshot.
    public init() {}

    /// A snapshot of these values.
    public init(
        acceptedBatches: Int, acceptedFrames: Int, rejected: [String: Int], duplicates: Int, late: Int, missing: Int,
        restarts: Int, nonFiniteFrames: Int, ringDropped: Int, ringRejected: Int
    ) {
        self.acceptedBatches = acceptedBatches
        self.acceptedFrames = acceptedFrames
        self.rejected = rejected
        self.duplicates = duplicates
        self.late = late
        self.missing = missing
        self.restarts = restarts
        self.nonFiniteFrames = nonFiniteFrames
        self.ringDropped = ringDropped
        self.ringRejected = ringRejected
    }

    /// Every rejected batch.
    public var rejectedTotal: Int { rejected.values.reduce(0, +) }

    /// Sums of two streams' counters.
    public static func + (a: IngestSnapshot, b: IngestSnapshot) -> IngestSnapshot {
        IngestSnapshot(
            acceptedBatches: a.acceptedBatches + b.acceptedBatches, acceptedFrames: a.acceptedFrames + b.acceptedFrames,
            rejected: a.rejected.merging(b.rejected, uniquingKeysWith: +), duplicates: a.duplicates + b.duplicates,
            late: a.late + b.late, missing: a.missing + b.missing, restarts: a.restarts + b.restarts,
            nonFiniteFrames: a.nonFiniteFrames + b.nonFiniteFrames, ringDropped: a.ringDropped + b.ringDropped,
            ringRejected: a.ringRejected + b.ringRejected)
    }

    /// The counters as flat metrics (`ingest_frames`, `ingest_rejected_bad_checksum`, …), for a device status.
    public var metrics: [String: Double] {
        var result: [String: Double] = [
            "ingest_batches": Double(acceptedBatches), "ingest_frames": Double(acceptedFrames),
            "ingest_duplicates": Double(duplicates), "ingest_late": Double(late), "ingest_missing": Double(missing),
            "ingest_restarts": Double(restarts), "ingest_non_finite_frames": Double(nonFiniteFrames),
            "ingest_rejected": Double(rejectedTotal), "ring_dropped": Double(ringDropped),
            "ring_rejected": Double(ringRejected),
        ]
        for (reason, count) in rejected { result["ingest_rejected_\(reason)"] = Double(count) }
        return result
    }

    /// One line for a summary: "12,000 frames in 120 batches; 3 rejected (bad_checksum 2, mismatch 1); …".
    public var summary: String {
        var parts = ["\(acceptedFrames) frames in \(acceptedBatches) batches"]
        if rejectedTotal > 0 {
            let reasons = rejected.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
            parts.append("\(rejectedTotal) rejected (\(reasons))")
        }
        for (count, what) in [
            (duplicates, "duplicates dropped"), (late, "late"), (missing, "missing (sequence gaps)"),
            (restarts, "sender restarts"), (nonFiniteFrames, "frames with NaN/Inf skipped"),
            (ringDropped, "frames dropped by the full ring"), (ringRejected, "frames refused by the full ring"),
        ] where count > 0 {
            parts.append("\(count) \(what)")
        }
        return parts.joined(separator: "; ")
    }
}
