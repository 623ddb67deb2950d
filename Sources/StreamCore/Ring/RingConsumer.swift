public import Synchronization

/// The consuming side of a ring: index bookkeeping only (typed rings wrap it with their storage).
///
/// Exactly one consumer may exist per ring; it is a value owned by the consuming thread. It caches the
/// producer's position and reloads it only when the ring looks empty.
public struct RingConsumer: @unchecked Sendable {
    // @unchecked: RingControl is shared through atomics only; this struct's fields belong to one thread.
    @usableFromInline let control: RingControl
    @usableFromInline var head: Int
    @usableFromInline var cachedTail: Int
    @usableFromInline var claimed = false

    @usableFromInline
    init(control: RingControl) {
        self.control = control
        head = control.head.pointee.load(ordering: .acquiring) >> 1
        cachedTail = control.tail.pointee.load(ordering: .acquiring)
    }

    /// Returns up to `count` readable elements as a span. Read them, then ``release(_:)`` (always, even with 0):
    /// under ``FullRingPolicy/dropOldest`` the span is protected from being dropped until released.
    @inlinable
    public mutating func acquire(_ count: Int) -> RingSpan {
        precondition(!claimed, "release the previous span before acquiring another")
        if control.policy == .dropOldest {
            // The producer may have dropped elements: start from the shared head and claim it.
            var word = control.head.pointee.load(ordering: .acquiring)
            while true {
                let (exchanged, original) = control.head.pointee.compareExchange(
                    expected: word, desired: word | 1, ordering: .acquiringAndReleasing)
                if exchanged { break }
                word = original
            }
            head = word >> 1
            claimed = true
        }
        var available = cachedTail &- head
        if available < count {
            cachedTail = control.tail.pointee.load(ordering: .acquiring)
            available = cachedTail &- head
        }
        return RingSpan(position: head, count: min(count, available), capacity: control.capacity)
    }

    /// Frees the first `count` elements of the last acquired span for the producer.
    @inlinable
    public mutating func release(_ count: Int) {
        head &+= count
        claimed = false
        control.head.pointee.store(head << 1, ordering: .releasing)
    }

    /// The physical slot of the oldest element, or nil when empty. Read it, then ``release(_:)`` with 1 (or 0).
    @inlinable
    public mutating func acquireOne() -> Int? {
        if control.policy == .dropOldest {
            let span = acquire(1)
            if span.count == 0 {
                release(0)
                return nil
            }
            return span.first.lowerBound
        }
        if cachedTail == head {
            cachedTail = control.tail.pointee.load(ordering: .acquiring)
            if cachedTail == head { return nil }
        }
        return head & control.mask
    }

    /// Elements readable right now (reloads the producer's position).
    @inlinable
    public mutating func available() -> Int {
        cachedTail = control.tail.pointee.load(ordering: .acquiring)
        if control.policy == .dropOldest { head = control.head.pointee.load(ordering: .acquiring) >> 1 }
        return cachedTail &- head
    }
}
