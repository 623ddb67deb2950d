/// Cuts the frames of a ``FrameRing`` into windows, in place.
///
/// The window's frames stay in the ring while they are looked at: the windower acquires `length` frames (or
/// all frames up to the end of a time window), hands them out as up to two segments, and releases only `hop`
/// frames, so overlapping windows share their frames without copying. The ring must hold at least one window;
/// a time window that cannot complete because the ring is full is emitted truncated (and counted).
public struct Windower: Sendable {
    /// One window: its frames as up to two ring segments (valid only during the callback), and its time range.
    public struct Window {
        /// The frames, in order.
        public var segments: (FrameRing.Segment, FrameRing.Segment)
        /// Number of frames.
        public var frames: Int { segments.0.count + segments.1.count }
        /// Window start (inclusive): the first frame's time for frame windows, the aligned start for time ones.
        public var start: Int64
        /// Window end (exclusive): one past the last frame's time for frame windows.
        public var end: Int64
        /// Sequence number of the window since the windower was created.
        public var index: Int
    }

    /// The specification.
    public let spec: WindowSpec
    /// Windows emitted.
    public private(set) var emitted = 0
    /// Time windows emitted truncated because the ring filled before they ended.
    public private(set) var truncated = 0
    /// Time windows skipped because no frame fell in them (gaps in the stream).
    public private(set) var empty = 0
    /// Frames still to be skipped before the next frame window (when hop > length).
    var pendingSkip = 0
    /// Start of the next time window, once known.
    var nextStart: Int64?

    /// Creates a windower.
    public init(spec: WindowSpec) {
        self.spec = spec
    }

    /// Emits every window that the ring's current content completes; returns how many.
    @discardableResult
    public mutating func drain(
        _ consumer: inout FrameRing.Consumer, ring: FrameRing, _ emit: (Window) -> Void
    ) -> Int {
        switch (spec.length, spec.hop) {
        case (.frames(let length), .frames(let hop)):
            return drainFrames(&consumer, ring: ring, length: length, hop: hop, emit)
        case (.time(let length), .time(let hop)):
            return drainTime(&consumer, ring: ring, length: length, hop: hop, emit)
        default:
            preconditionFailure("WindowSpec guarantees matching extents")
        }
    }

    mutating func drainFrames(
        _ consumer: inout FrameRing.Consumer, ring: FrameRing, length: Int, hop: Int, _ emit: (Window) -> Void
    ) -> Int {
        precondition(length <= ring.capacity, "a window of \(length) frames does not fit a ring of \(ring.capacity)")
        var count = 0
        while true {
            if pendingSkip > 0 {
                let span = consumer.acquire(pendingSkip)
                consumer.release(span.count)
                pendingSkip -= span.count
                if pendingSkip > 0 { return count }
            }
            let span = consumer.acquire(length)
            guard span.count == length else {
                consumer.release(0)
                return count
            }
            let segments = ring.segments(span)
            let first = segments.0.timestamps[0]
            let last =
                segments.1.count > 0
                ? segments.1.timestamps[segments.1.count - 1]
                : segments.0.timestamps[segments.0.count - 1]
            emit(Window(segments: segments, start: first, end: last &+ 1, index: emitted))
            emitted += 1
            count += 1
            consumer.release(Swift.min(hop, length))
            pendingSkip = Swift.max(0, hop - length)
        }
    }

    mutating func drainTime(
        _ consumer: inout FrameRing.Consumer, ring: FrameRing, length: Int64, hop: Int64, _ emit: (Window) -> Void
    ) -> Int {
        var count = 0
        while true {
            let span = consumer.acquire(ring.capacity)
            guard span.count > 0 else {
                consumer.release(0)
                return count
            }
            let segments = ring.segments(span)
            let timestamps = TimestampView(segments)
            if nextStart == nil {
                // Align windows to multiples of the hop, so devices agree on window boundaries.
                let t = timestamps[0]
                nextStart = t - ((t % hop) + hop) % hop
            }
            var start = nextStart!
            if timestamps[0] >= start &+ length {
                // A gap in the stream: skip the windows that cannot contain any frame in one step.
                let skipped = (timestamps[0] - start - length) / hop + 1
                empty += Int(skipped)
                start += skipped * hop
                nextStart = start
            }
            let end = start &+ length
            let first = timestamps.firstIndex { $0 >= start }
            let past = timestamps.firstIndex { $0 >= end }
            guard past != nil || span.count == ring.capacity else {
                // The window is not complete yet; drop what precedes it and wait for more.
                consumer.release(first ?? span.count)
                return count
            }
            let lower = first ?? span.count
            let upper = past ?? span.count
            if upper > lower {
                let window = ring.segments(sub(span, lower, upper - lower, capacity: ring.capacity))
                emit(Window(segments: window, start: start, end: end, index: emitted))
                emitted += 1
                count += 1
                if past == nil { truncated += 1 }
            } else {
                empty += 1
            }
            nextStart = start &+ hop
            // Free the frames before the next window's start (all of them if the ring was full).
            let keepFrom = past == nil ? upper : (timestamps.firstIndex { $0 >= start &+ hop } ?? span.count)
            consumer.release(keepFrom)
        }
    }

    func sub(_ span: RingSpan, _ offset: Int, _ count: Int, capacity: Int) -> RingSpan {
        RingSpan(position: span.position + offset, count: count, capacity: capacity)
    }
}

/// Random access to the time stamps of up to two segments.
struct TimestampView {
    let first: UnsafeMutableBufferPointer<Int64>
    let second: UnsafeMutableBufferPointer<Int64>

    init(_ segments: (FrameRing.Segment, FrameRing.Segment)) {
        first = segments.0.timestamps
        second = segments.1.timestamps
    }

    var count: Int { first.count + second.count }

    subscript(i: Int) -> Int64 { i < first.count ? first[i] : second[i - first.count] }

    /// The first index whose time stamp satisfies `predicate` (time stamps are non-decreasing: binary search).
    func firstIndex(where predicate: (Int64) -> Bool) -> Int? {
        var low = 0
        var high = count
        while low < high {
            let mid = (low + high) / 2
            if predicate(self[mid]) { high = mid } else { low = mid + 1 }
        }
        return low < count ? low : nil
    }
}
