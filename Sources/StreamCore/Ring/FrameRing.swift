/// A lock-free single-producer single-consumer ring of sensor frames: a device time stamp and a fixed number of
/// channel values per frame, stored unboxed in two flat buffers (time stamps, and values frame after frame).
///
/// A span of frames maps to at most two contiguous segments of each buffer, so a frame decoder writes straight
/// into the ring and the window cutter reads values in place. Indices and policies are those of ``SPSCRing``.
public final class FrameRing: @unchecked Sendable {
    // @unchecked: see SPSCRing; the same protocol guards both buffers.
    @usableFromInline let control: RingControl
    @usableFromInline let timestamps: UnsafeMutablePointer<Int64>
    @usableFromInline let values: UnsafeMutablePointer<Float>
    /// Values per frame.
    public let channels: Int

    /// Creates a ring of `capacity` frames (a power of two) of `channels` values each.
    public init(capacity: Int, channels: Int, policy: FullRingPolicy = .dropOldest) {
        precondition(channels > 0, "a frame has at least one channel")
        control = RingControl(capacity: capacity, policy: policy)
        self.channels = channels
        timestamps = .allocate(capacity: capacity)
        values = .allocate(capacity: capacity * channels)
        timestamps.initialize(repeating: 0, count: capacity)
        values.initialize(repeating: 0, count: capacity * channels)
    }

    deinit {
        timestamps.deallocate()
        values.deallocate()
    }

    /// The number of frame slots.
    public var capacity: Int { control.capacity }
    /// The full-ring policy.
    public var policy: FullRingPolicy { control.policy }
    /// Losses so far, in frames.
    public var counters: RingCounters { control.counters }
    /// Frames written and not yet read (a snapshot).
    public var count: Int { control.count }

    /// The producing side. Make exactly one.
    public func makeProducer() -> Producer { Producer(ring: self) }
    /// The consuming side. Make exactly one.
    public func makeConsumer() -> Consumer { Consumer(ring: self) }

    /// One contiguous run of frames: `timestamps.count` frames and `timestamps.count × channels` values.
    public struct Segment {
        /// Time stamps, one per frame.
        public var timestamps: UnsafeMutableBufferPointer<Int64>
        /// Values, frame after frame, `channels` per frame.
        public var values: UnsafeMutableBufferPointer<Float>
        /// Number of frames.
        @inlinable public var count: Int { timestamps.count }

        /// Creates a segment.
        @inlinable
        public init(timestamps: UnsafeMutableBufferPointer<Int64>, values: UnsafeMutableBufferPointer<Float>) {
            self.timestamps = timestamps
            self.values = values
        }
    }

    /// The memory of a span's frames, as up to two segments.
    @inlinable
    public func segments(_ span: RingSpan) -> (Segment, Segment) {
        (segment(span.first), segment(span.second))
    }

    @inlinable
    func segment(_ range: Range<Int>) -> Segment {
        Segment(
            timestamps: UnsafeMutableBufferPointer(start: timestamps + range.lowerBound, count: range.count),
            values: UnsafeMutableBufferPointer(
                start: values + range.lowerBound * channels, count: range.count * channels)
        )
    }

    /// The producing side of a ``FrameRing``.
    public struct Producer: @unchecked Sendable {
        // @unchecked: owned by one thread; see FrameRing.
        @usableFromInline let ring: FrameRing
        @usableFromInline var indices: RingProducer

        @usableFromInline init(ring: FrameRing) {
            self.ring = ring
            indices = RingProducer(control: ring.control)
        }

        /// Appends one frame (`values.count` must equal the channel count); false if refused (counted).
        @inlinable @discardableResult
        public mutating func push(timestamp: Int64, values: UnsafeBufferPointer<Float>) -> Bool {
            precondition(
                values.count == ring.channels, "frame has \(values.count) values, ring expects \(ring.channels)")
            guard let slot = indices.reserveOne() else { return false }
            ring.timestamps[slot] = timestamp
            (ring.values + slot * ring.channels).update(from: values.baseAddress!, count: ring.channels)
            indices.commit(1)
            return true
        }

        /// Appends one frame if a slot is free, without dropping or counting anything (for producers that wait).
        @inlinable
        public mutating func tryPush(timestamp: Int64, values: UnsafeBufferPointer<Float>) -> Bool {
            precondition(
                values.count == ring.channels, "frame has \(values.count) values, ring expects \(ring.channels)")
            guard let slot = indices.reserveOneAvailable() else { return false }
            ring.timestamps[slot] = timestamp
            (ring.values + slot * ring.channels).update(from: values.baseAddress!, count: ring.channels)
            indices.commit(1)
            return true
        }

        /// Reserves up to `count` frame slots (the shortfall is counted as rejected); write the segments, then
        /// ``commit(_:)``.
        @inlinable
        public mutating func reserve(_ count: Int) -> RingSpan { indices.reserve(count) }

        /// Reserves up to `count` frame slots without dropping or counting.
        @inlinable
        public mutating func reserveAvailable(_ count: Int) -> RingSpan { indices.reserveAvailable(count) }

        /// Reserves up to `count` frame slots, waiting (calling `idle` between checks) up to `timeout`.
        @inlinable
        public mutating func reserve<C: Clock>(_ count: Int, timeout: C.Duration, clock: C, idle: () -> Void)
            -> RingSpan
        {
            indices.reserve(count, timeout: timeout, clock: clock, idle: idle)
        }

        /// Publishes `count` written frames of the last reservation.
        @inlinable
        public mutating func commit(_ count: Int) { indices.commit(count) }
    }

    /// The consuming side of a ``FrameRing``.
    public struct Consumer: @unchecked Sendable {
        // @unchecked: owned by one thread; see FrameRing.
        @usableFromInline let ring: FrameRing
        @usableFromInline var indices: RingConsumer

        @usableFromInline init(ring: FrameRing) {
            self.ring = ring
            indices = RingConsumer(control: ring.control)
        }

        /// Exposes up to `count` readable frames in place; read the segments, then ``release(_:)``.
        @inlinable
        public mutating func acquire(_ count: Int) -> RingSpan { indices.acquire(count) }

        /// Frees `count` frames of the last acquired span.
        @inlinable
        public mutating func release(_ count: Int) { indices.release(count) }

        /// Frames readable now.
        @inlinable
        public mutating func available() -> Int { indices.available() }
    }
}
