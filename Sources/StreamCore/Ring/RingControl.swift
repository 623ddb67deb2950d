public import Synchronization

/// What a producer does when the ring is full.
public enum FullRingPolicy: Sendable, Hashable {
    /// Make room by discarding the oldest unread elements (counted in ``RingCounters/droppedOldest``). If the
    /// consumer is reading exactly those elements at that moment, the new element is refused instead (counted in
    /// ``RingCounters/rejectedNewest``): the producer never waits and never overwrites data being read.
    case dropOldest
    /// Refuse new elements until the consumer frees space (counted in ``RingCounters/rejectedNewest``).
    case rejectNewest
}

/// How many elements a ring discarded, by reason. Drops are never silent.
public struct RingCounters: Sendable, Hashable {
    /// Oldest unread elements discarded to make room for newer ones.
    public var droppedOldest: Int
    /// New elements refused because the ring was full.
    public var rejectedNewest: Int

    /// Creates counters.
    public init(droppedOldest: Int = 0, rejectedNewest: Int = 0) {
        self.droppedOldest = droppedOldest
        self.rejectedNewest = rejectedNewest
    }

    /// All elements lost.
    public var total: Int { droppedOldest + rejectedNewest }
}

/// The shared part of a single-producer single-consumer ring: the two positions and the loss counters, each
/// side's on its own cache line, plus capacity and policy.
///
/// Positions count elements since creation and never wrap (an `Int` lasts centuries at sensor rates); the
/// physical slot is `position & mask`. The head word is `position << 1 | claimed`: under ``FullRingPolicy/dropOldest``
/// the consumer sets `claimed` while it reads, and the producer may only move the head forward (drop) while it is
/// clear, so a slot is never overwritten while it is being read.
///
/// `@unchecked Sendable`: all shared mutable state is atomic; the raw block is owned by this object.
@usableFromInline
final class RingControl: @unchecked Sendable {
    @usableFromInline static let lineSize = 64

    @usableFromInline let block: UnsafeMutableRawPointer
    /// Producer's line: the tail position and the producer's loss counters.
    @usableFromInline let tail: UnsafeMutablePointer<Atomic<Int>>
    @usableFromInline let droppedOldest: UnsafeMutablePointer<Atomic<Int>>
    @usableFromInline let rejectedNewest: UnsafeMutablePointer<Atomic<Int>>
    /// Consumer's line: the head word.
    @usableFromInline let head: UnsafeMutablePointer<Atomic<Int>>
    @usableFromInline let capacity: Int
    @usableFromInline let mask: Int
    @usableFromInline let policy: FullRingPolicy

    @usableFromInline
    init(capacity: Int, policy: FullRingPolicy) {
        precondition(capacity > 0 && capacity.nonzeroBitCount == 1, "ring capacity must be a power of two")
        self.capacity = capacity
        self.mask = capacity - 1
        self.policy = policy
        let line = Self.lineSize
        // [padding | tail, counters | head | padding]: nothing else shares the two hot lines.
        block = .allocate(byteCount: 4 * line, alignment: line)
        tail = (block + line).bindMemory(to: Atomic<Int>.self, capacity: 3)
        droppedOldest = tail + 1
        rejectedNewest = tail + 2
        head = (block + 2 * line).bindMemory(to: Atomic<Int>.self, capacity: 1)
        tail.initialize(to: Atomic(0))
        droppedOldest.initialize(to: Atomic(0))
        rejectedNewest.initialize(to: Atomic(0))
        head.initialize(to: Atomic(0))
    }

    deinit {
        tail.deinitialize(count: 3)
        head.deinitialize(count: 1)
        block.deallocate()
    }

    @usableFromInline var counters: RingCounters {
        RingCounters(
            droppedOldest: droppedOldest.pointee.load(ordering: .relaxed),
            rejectedNewest: rejectedNewest.pointee.load(ordering: .relaxed)
        )
    }

    /// Elements written and not yet consumed (a snapshot).
    @usableFromInline var count: Int {
        let h = head.pointee.load(ordering: .acquiring) >> 1
        let t = tail.pointee.load(ordering: .acquiring)
        return max(0, t - h)
    }
}

/// A run of ring slots as up to two physical index ranges (the second is non-empty when the run wraps).
public struct RingSpan: Sendable, Hashable {
    /// Position (since creation) of the first element of the run.
    public var position: Int
    /// First physical range.
    public var first: Range<Int>
    /// Second physical range, starting at slot 0, or empty.
    public var second: Range<Int>

    /// Number of slots in the run.
    @inlinable public var count: Int { first.count + second.count }

    @inlinable
    init(position: Int, count: Int, capacity: Int) {
        self.position = position
        let start = position & (capacity - 1)
        let firstCount = min(count, capacity - start)
        first = start..<(start + firstCount)
        second = 0..<(count - firstCount)
    }

    /// An empty run.
    @inlinable public static var empty: RingSpan { RingSpan(position: 0, count: 0, capacity: 1) }
}
