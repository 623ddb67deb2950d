public import StreamCore
public import TributaryWire

/// The one way sensor data enters a stream, whatever the source (the MQTT sensor topic, UDP, standard input, a
/// recording, the simulator, the recorder): each batch validated, its sequence number tracked, duplicates (and
/// late batches, unless asked to keep them, so the ring stays in time order) dropped, the rest written straight
/// into the ring — and everything counted in ``counters``, rejections by reason. Nothing is silent: a rejection
/// is also handed to ``onRejection`` with its error, for the owner's (rate-limited) log.
///
/// Owned by the one thread that feeds the ring (the ring has a single producer); ``counters`` is read anywhere.
public struct SensorIngest: @unchecked Sendable {
    // @unchecked: the producer is used by the owning thread only; the counters are atomic.
    /// The counters, shared with whoever reports them.
    public let counters: IngestCounters
    /// Sequence bookkeeping.
    public private(set) var tracker = SequenceTracker()
    /// Keep late batches instead of dropping them (the ring then may go back in time).
    public var acceptLate: Bool
    /// Largest batch accepted, in bytes (larger ones are `too_large`).
    public var maxBytes: Int
    /// Called on the owning thread for each rejected batch, with the running total of rejections.
    public var onRejection: (@Sendable (WireError, Int) -> Void)?
    let ring: FrameRing
    var producer: FrameRing.Producer
    /// The newest time stamp written by ``ingest(timestamps:values:waitWhenFull:)``.
    var newest = Int64.min

    /// An ingest into `ring` (make one per ring: it holds the ring's producer).
    public init(
        ring: FrameRing, counters: IngestCounters? = nil, acceptLate: Bool = false, maxBytes: Int = 1 << 20,
        onRejection: (@Sendable (WireError, Int) -> Void)? = nil
    ) {
        self.ring = ring
        self.counters = counters ?? IngestCounters(ring: ring)
        self.acceptLate = acceptLate
        self.maxBytes = maxBytes
        self.onRejection = onRejection
        producer = ring.makeProducer()
    }

    /// Handles one sensor batch; returns the rejection if there was one.
    @discardableResult
    public mutating func ingest(_ bytes: UnsafeRawBufferPointer) -> WireError? {
        var verdict = SequenceTracker.Verdict.inOrder
        let acceptLate = acceptLate
        do {
            let (info, written) = try SensorBatch.decode(bytes, into: &producer, ring: ring, maxBytes: maxBytes) {
                info in
                verdict = tracker.observe(info.sequence)
                switch verdict {
                case .duplicate: return false
                case .late: return acceptLate
                default: return true
                }
            }
            count(verdict, frames: written, batchFrames: info.frames)
            return nil
        } catch {
            reject(error)
            return error
        }
    }

    /// Frames already decoded (a recording's chunk, the simulator's samples): frames with a NaN or infinite
    /// value are skipped and counted, frames older than the newest written are dropped as late; the rest go into
    /// the ring. When the ring is full, `waitWhenFull` is called: true means room was made (or waited for) and the
    /// frame is tried again, false means the ring's policy decides (a live source: drop the oldest, or refuse this
    /// frame), and counts it.
    /// Returns the frames written.
    @discardableResult
    public mutating func ingest(
        timestamps: UnsafeBufferPointer<Int64>, values: UnsafeBufferPointer<Float>, waitWhenFull: () -> Bool
    ) -> Int {
        let channels = ring.channels
        precondition(values.count == timestamps.count * channels, "values are not whole frames of the ring")
        var written = 0
        var skipped = 0
        var late = 0
        var i = 0
        while i < timestamps.count {
            let frame = UnsafeBufferPointer(rebasing: values[(i * channels)..<((i + 1) * channels)])
            if frame.contains(where: { !$0.isFinite }) {
                skipped += 1
                i += 1
                continue
            }
            if timestamps[i] < newest && !acceptLate {
                late += 1
                i += 1
                continue
            }
            if producer.tryPush(timestamp: timestamps[i], values: frame) {
                newest = timestamps[i]
                written += 1
                i += 1
            } else if !waitWhenFull() {
                // A live source does not wait: the ring's policy decides (drop the oldest, or refuse this one)
                // and counts it.
                if producer.push(timestamp: timestamps[i], values: frame) {
                    newest = timestamps[i]
                    written += 1
                }
                i += 1
            }
        }
        if written > 0 {
            counters.acceptedBatches.add(1, ordering: .relaxed)
            counters.acceptedFrames.add(written, ordering: .relaxed)
        }
        if skipped > 0 { counters.nonFiniteFrames.add(skipped, ordering: .relaxed) }
        if late > 0 { counters.late.add(1, ordering: .relaxed) }
        return written
    }

    /// Counts a batch of `length` bytes that was refused before it was read (a source that knows the length
    /// first, such as a length-prefixed stream), as `too_large`.
    public mutating func rejectOversized(_ length: Int) {
        reject(WireError(.tooLarge, "batch of \(length) bytes exceeds the \(maxBytes)-byte limit"))
    }

    mutating func count(_ verdict: SequenceTracker.Verdict, frames written: Int, batchFrames: Int) {
        switch verdict {
        case .duplicate:
            counters.duplicates.add(1, ordering: .relaxed)
        case .late where !acceptLate:
            counters.late.add(1, ordering: .relaxed)
        default:
            if case .gap(let missing) = verdict { counters.missing.add(Int(missing), ordering: .relaxed) }
            if case .late = verdict { counters.late.add(1, ordering: .relaxed) }
            if case .restart = verdict { counters.restarts.add(1, ordering: .relaxed) }
            counters.acceptedBatches.add(1, ordering: .relaxed)
            counters.acceptedFrames.add(written, ordering: .relaxed)
        }
    }

    mutating func reject(_ error: WireError) {
        let total = counters.reject(error.code.description)
        onRejection?(error, total)
    }
}

/// The sequence checks and counters of a stream whose batches do not go into a ring (the recorder writes them
/// to a file): the same verdicts and counters as ``SensorIngest``.
public struct BatchScreen: Sendable {
    /// The counters.
    public let counters = IngestCounters()
    /// Sequence bookkeeping.
    public private(set) var tracker = SequenceTracker()

    /// A screen for one stream.
    public init() {}

    /// Observes a decoded batch's sequence number: true if its frames are to be kept (not a duplicate, not
    /// late), counting either way.
    public mutating func admit(_ header: SensorBatch.Header) -> Bool {
        switch tracker.observe(header.sequence) {
        case .duplicate:
            counters.duplicates.add(1, ordering: .relaxed)
            return false
        case .late:
            counters.late.add(1, ordering: .relaxed)
            return false
        case .gap(let missing):
            counters.missing.add(Int(missing), ordering: .relaxed)
        case .restart:
            counters.restarts.add(1, ordering: .relaxed)
        case .inOrder:
            break
        }
        counters.acceptedBatches.add(1, ordering: .relaxed)
        counters.acceptedFrames.add(header.frames, ordering: .relaxed)
        return true
    }

    /// Counts a batch that could not be decoded (its stream is unknown until it is: the caller keeps such
    /// counts on a screen of its own).
    public func reject(_ error: WireError) {
        _ = counters.reject(error.code.description)
    }
}
