/// A lock-free single-producer single-consumer ring of fixed-size elements, with a power-of-two capacity.
///
/// Create it, then hand ``makeProducer()``'s value to the producing thread and ``makeConsumer()``'s to the
/// consuming thread; each side owns its value. Single elements go through ``Producer/push(_:)`` and
/// ``Consumer/pop()``; batches through spans of up to two contiguous segments, so a decoder can write straight
/// into the ring and a reader can process elements in place. What happens when the ring is full is the
/// ``FullRingPolicy`` chosen here; every loss is counted in ``counters``.
public final class SPSCRing<Element: BitwiseCopyable>: @unchecked Sendable {
    // @unchecked: the element buffer is written only by the producer in slots the consumer does not read, and
    // read only by the consumer in slots the producer published with a release store (see RingControl).
    @usableFromInline let control: RingControl
    @usableFromInline let buffer: UnsafeMutablePointer<Element>

    /// Creates a ring of `capacity` elements (a power of two).
    public init(capacity: Int, policy: FullRingPolicy = .dropOldest) {
        control = RingControl(capacity: capacity, policy: policy)
        buffer = .allocate(capacity: capacity)
    }

    deinit { buffer.deallocate() }

    /// The number of slots.
    public var capacity: Int { control.capacity }
    /// The full-ring policy.
    public var policy: FullRingPolicy { control.policy }
    /// Losses so far.
    public var counters: RingCounters { control.counters }
    /// Elements written and not yet read (a snapshot; exact only when both sides are idle).
    public var count: Int { control.count }

    /// The producing side. Make exactly one.
    public func makeProducer() -> Producer { Producer(ring: self) }
    /// The consuming side. Make exactly one.
    public func makeConsumer() -> Consumer { Consumer(ring: self) }

    /// The memory of a span's slots, as up to two buffers.
    @inlinable
    public func segments(_ span: RingSpan) -> (UnsafeMutableBufferPointer<Element>, UnsafeMutableBufferPointer<Element>)
    {
        (
            UnsafeMutableBufferPointer(start: buffer + span.first.lowerBound, count: span.first.count),
            UnsafeMutableBufferPointer(start: buffer, count: span.second.count)
        )
    }

    /// The producing side of an ``SPSCRing``.
    public struct Producer: @unchecked Sendable {
        // @unchecked: owned by one thread; see SPSCRing.
        @usableFromInline let ring: SPSCRing
        @usableFromInline var indices: RingProducer

        @usableFromInline init(ring: SPSCRing) {
            self.ring = ring
            indices = RingProducer(control: ring.control)
        }

        /// Appends one element; false if the policy refused it (counted).
        @inlinable @discardableResult
        public mutating func push(_ element: Element) -> Bool {
            guard let slot = indices.reserveOne() else { return false }
            ring.buffer[slot] = element
            indices.commit(1)
            return true
        }

        /// Appends one element if there is room, without dropping or counting anything: for producers that
        /// retry (or wait) when the ring is full.
        @inlinable
        public mutating func tryPush(_ element: Element) -> Bool {
            guard let slot = indices.reserveOneAvailable() else { return false }
            ring.buffer[slot] = element
            indices.commit(1)
            return true
        }

        /// Appends as many of `elements` as the policy allows; returns how many (the rest are counted).
        @inlinable @discardableResult
        public mutating func push(contentsOf elements: UnsafeBufferPointer<Element>) -> Int {
            let span = indices.reserve(elements.count)
            let (first, second) = ring.segments(span)
            guard let source = elements.baseAddress else { return 0 }
            first.baseAddress?.update(from: source, count: first.count)
            second.baseAddress?.update(from: source + first.count, count: second.count)
            indices.commit(span.count)
            return span.count
        }

        /// Reserves up to `count` slots for writing in place (the shortfall is counted as rejected); write
        /// into ``SPSCRing/segments(_:)`` of the span, then ``commit(_:)``.
        @inlinable
        public mutating func reserve(_ count: Int) -> RingSpan { indices.reserve(count) }

        /// Reserves up to `count` slots without dropping or counting, for producers that would rather wait.
        @inlinable
        public mutating func reserveAvailable(_ count: Int) -> RingSpan { indices.reserveAvailable(count) }

        /// Reserves up to `count` slots, waiting (calling `idle` between checks) up to `timeout`.
        @inlinable
        public mutating func reserve<C: Clock>(_ count: Int, timeout: C.Duration, clock: C, idle: () -> Void)
            -> RingSpan
        {
            indices.reserve(count, timeout: timeout, clock: clock, idle: idle)
        }

        /// Publishes `count` written slots of the last reservation.
        @inlinable
        public mutating func commit(_ count: Int) { indices.commit(count) }
    }

    /// The consuming side of an ``SPSCRing``.
    public struct Consumer: @unchecked Sendable {
        // @unchecked: owned by one thread; see SPSCRing.
        @usableFromInline let ring: SPSCRing
        @usableFromInline var indices: RingConsumer

        @usableFromInline init(ring: SPSCRing) {
            self.ring = ring
            indices = RingConsumer(control: ring.control)
        }

        /// Removes and returns the oldest element, or nil if the ring is empty.
        @inlinable
        public mutating func pop() -> Element? {
            guard let slot = indices.acquireOne() else { return nil }
            let element = ring.buffer[slot]
            indices.release(1)
            return element
        }

        /// Moves up to `destination.count` elements into `destination`; returns how many.
        @inlinable
        public mutating func pop(into destination: UnsafeMutableBufferPointer<Element>) -> Int {
            let span = indices.acquire(destination.count)
            let (first, second) = ring.segments(span)
            if let target = destination.baseAddress {
                if let a = first.baseAddress { target.update(from: a, count: first.count) }
                if let b = second.baseAddress { (target + first.count).update(from: b, count: second.count) }
            }
            indices.release(span.count)
            return span.count
        }

        /// Exposes up to `count` readable elements in place; read ``SPSCRing/segments(_:)`` of the span, then
        /// ``release(_:)``.
        @inlinable
        public mutating func acquire(_ count: Int) -> RingSpan { indices.acquire(count) }

        /// Frees `count` elements of the last acquired span.
        @inlinable
        public mutating func release(_ count: Int) { indices.release(count) }

        /// Elements readable now.
        @inlinable
        public mutating func available() -> Int { indices.available() }
    }
}
