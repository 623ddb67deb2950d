public import Synchronization

/// The producing side of a ring: index bookkeeping only (typed rings wrap it with their storage).
///
/// Exactly one producer may exist per ring; it is a value owned by the producing thread. It caches the
/// consumer's position and reloads it only when the ring looks full, so the consumer's cache line is touched
/// rarely.
public struct RingProducer: @unchecked Sendable {
    // @unchecked: RingControl is shared through atomics only; this struct's fields belong to one thread.
    @usableFromInline let control: RingControl
    @usableFromInline var tail: Int
    @usableFromInline var cachedHead: Int

    @usableFromInline
    init(control: RingControl) {
        self.control = control
        tail = control.tail.pointee.load(ordering: .relaxed)
        cachedHead = control.head.pointee.load(ordering: .acquiring) >> 1
    }

    /// Free slots as last seen (a lower bound).
    @inlinable var knownFree: Int { control.capacity - (tail - cachedHead) }

    /// Returns up to `count` free slots, making room by the ring's policy if needed. Slots the policy could not
    /// provide are counted as rejected. Write into the span, then ``commit(_:)``.
    @inlinable
    public mutating func reserve(_ count: Int) -> RingSpan {
        let wanted = min(count, control.capacity)
        if knownFree < wanted {
            cachedHead = control.head.pointee.load(ordering: .acquiring) >> 1
            if knownFree < wanted && control.policy == .dropOldest {
                _ = dropOldest(wanted - knownFree)
            }
        }
        let granted = min(wanted, knownFree)
        if granted < count {
            control.rejectedNewest.pointee.add(count - granted, ordering: .relaxed)
        }
        return RingSpan(position: tail, count: granted, capacity: control.capacity)
    }

    /// Returns up to `count` free slots without dropping or counting anything (for producers that wait).
    @inlinable
    public mutating func reserveAvailable(_ count: Int) -> RingSpan {
        if knownFree < count { cachedHead = control.head.pointee.load(ordering: .acquiring) >> 1 }
        return RingSpan(position: tail, count: min(count, knownFree), capacity: control.capacity)
    }

    /// Publishes the first `count` slots of the last reservation to the consumer.
    @inlinable
    public mutating func commit(_ count: Int) {
        tail &+= count
        control.tail.pointee.store(tail, ordering: .releasing)
    }

    /// The physical slot for one new element, or nil if the policy refused it (counted). Write the slot, then
    /// ``commit(_:)`` with 1.
    @inlinable
    public mutating func reserveOne() -> Int? {
        if tail &- cachedHead == control.capacity {
            cachedHead = control.head.pointee.load(ordering: .acquiring) >> 1
            if tail &- cachedHead == control.capacity {
                if control.policy == .rejectNewest || !dropOldest(1) {
                    control.rejectedNewest.pointee.add(1, ordering: .relaxed)
                    return nil
                }
            }
        }
        return tail & control.mask
    }

    /// The physical slot for one new element if one is free, without dropping or counting anything (for
    /// producers that retry). Write the slot, then ``commit(_:)`` with 1.
    @inlinable
    public mutating func reserveOneAvailable() -> Int? {
        if tail &- cachedHead == control.capacity {
            cachedHead = control.head.pointee.load(ordering: .acquiring) >> 1
            if tail &- cachedHead == control.capacity { return nil }
        }
        return tail & control.mask
    }

    /// Discards the `count` oldest unread elements unless the consumer is reading; returns whether it did.
    @usableFromInline
    mutating func dropOldest(_ count: Int) -> Bool {
        var word = control.head.pointee.load(ordering: .acquiring)
        while true {
            if word & 1 == 1 { return false }  // the consumer is reading the oldest elements
            let position = word >> 1
            let drop = min(count, tail - position)
            if drop <= 0 {
                cachedHead = position
                return true
            }
            let (exchanged, original) = control.head.pointee.compareExchange(
                expected: word, desired: (position + drop) << 1, ordering: .acquiringAndReleasing)
            if exchanged {
                control.droppedOldest.pointee.add(drop, ordering: .relaxed)
                cachedHead = position + drop
                return true
            }
            word = original
        }
    }

    /// Waits (calling `idle` between checks) until `count` slots are free or `timeout` passes on `clock`;
    /// returns the free slots available then, possibly fewer than `count`. Nothing is dropped or counted.
    @inlinable
    public mutating func reserve<C: Clock>(
        _ count: Int, timeout: C.Duration, clock: C, idle: () -> Void
    ) -> RingSpan {
        let wanted = min(count, control.capacity)
        var span = reserveAvailable(wanted)
        if span.count == wanted { return span }
        let deadline = clock.now.advanced(by: timeout)
        while span.count < wanted && clock.now < deadline {
            idle()
            span = reserveAvailable(wanted)
        }
        return span
    }
}
