import Foundation
import StreamCore
import Synchronization
import Testing

/// Two real threads push and pop 10^8 elements through a small ring, mixing single elements and batches of
/// varying sizes; the consumer checks order and a checksum. CI also runs this suite under ThreadSanitizer.
@Suite struct RingStress {
    static let total: UInt64 = 100_000_000

    @Test("10^8 elements between two threads arrive in order with the right checksum")
    func twoThreads() async {
        let ring = SPSCRing<UInt64>(capacity: 1024, policy: .rejectNewest)
        let producer = ring.makeProducer()
        let consumer = ring.makeConsumer()
        let total = Self.total

        let producing = Thread.detachedRun {
            var p = producer
            var next: UInt64 = 1
            var size = 1
            while next <= total {
                if size == 1 {
                    if p.tryPush(next) { next += 1 }
                } else {
                    let span = p.reserveAvailable(min(size, Int(total - next + 1)))
                    let (a, b) = ring.segments(span)
                    for i in a.indices { a[i] = next; next += 1 }
                    for i in b.indices { b[i] = next; next += 1 }
                    p.commit(span.count)
                }
                size = size == 1 ? 97 : size - 32  // 1, 97, 65, 33, 1, ...
                if size < 1 { size = 1 }
            }
            return 0
        }
        let consuming = Thread.detachedRun {
            var c = consumer
            var expected: UInt64 = 1
            var checksum: UInt64 = 0
            var outOfOrder = 0
            var size = 1
            while expected <= total {
                if size == 1 {
                    if let value = c.pop() {
                        if value != expected { outOfOrder += 1 }
                        checksum &+= value
                        expected += 1
                    }
                } else {
                    let span = c.acquire(size)
                    let (a, b) = ring.segments(span)
                    for value in a {
                        if value != expected { outOfOrder += 1 }
                        checksum &+= value
                        expected += 1
                    }
                    for value in b {
                        if value != expected { outOfOrder += 1 }
                        checksum &+= value
                        expected += 1
                    }
                    c.release(span.count)
                }
                size = size >= 200 ? 1 : size + 50  // 1, 51, 101, 151, 201, 1, ...
            }
            return outOfOrder == 0 ? Int(truncatingIfNeeded: checksum) : -outOfOrder
        }
        _ = await producing.value
        let result = await consuming.value
        #expect(result == Int(truncatingIfNeeded: total * (total + 1) / 2))
        #expect(ring.counters.total == 0)
        #expect(ring.count == 0)
    }
}

/// The production ring's drop-oldest path under two real threads: the producer never waits (a live sensor),
/// so it keeps discarding the oldest frames while the consumer reads spans in place. What the consumer gets must
/// be exactly what was pushed, strictly in order (an overwritten or torn slot would show as a value out of
/// order), and every element is accounted for: received + dropped + refused = pushed. Also run under TSan.
@Suite struct RingStressDropOldest {
    static let total: UInt64 = 20_000_000

    @Test("drop-oldest with a slow reader: what arrives is in order and intact, and nothing goes uncounted")
    func dropOldest() async {
        let ring = FrameRing(capacity: 256, channels: 2, policy: .dropOldest)
        let producer = ring.makeProducer()
        let consumer = ring.makeConsumer()
        let total = Self.total
        let done = ManagedAtomicFlag()

        let producing = Thread.detachedRun {
            var p = producer
            var next: UInt64 = 1
            var size = 1
            var pair: [Float] = [0, 0]
            while next <= total {
                if size == 1 {
                    // One frame: its time stamp is the sequence, its values encode it twice.
                    pair[0] = Float(next % 4_096)
                    pair[1] = Float(next % 4_093)
                    pair.withUnsafeBufferPointer { _ = p.push(timestamp: Int64(next), values: $0) }
                    next += 1
                } else {
                    let want = min(size, Int(total - next + 1))
                    let span = p.reserve(want)
                    let (a, b) = ring.segments(span)
                    var k = next
                    for segment in [a, b] {
                        for j in 0..<segment.count {
                            segment.timestamps[j] = Int64(k)
                            segment.values[2 * j] = Float(k % 4_096)
                            segment.values[2 * j + 1] = Float(k % 4_093)
                            k += 1
                        }
                    }
                    p.commit(span.count)
                    // Frames the ring could not take (the reader held them) were refused and counted.
                    next += UInt64(want)
                }
                size = size == 1 ? 61 : size - 20  // 1, 61, 41, 21, 1, ...
                if size < 1 { size = 1 }
            }
            done.set()
            return 0
        }
        let consuming = Thread.detachedRun {
            var c = consumer
            var last: UInt64 = 0
            var received = 0
            var bad = 0
            var size = 1
            func check(_ t: Int64, _ v0: Float, _ v1: Float) {
                let value = UInt64(t)
                if value <= last || v0 != Float(value % 4_096) || v1 != Float(value % 4_093) { bad += 1 }
                last = value
                received += 1
            }
            while true {
                let finished = done.isSet
                let span = c.acquire(size)
                if span.count == 0 {
                    c.release(0)  // a drop-oldest span is claimed even when empty
                    if finished && c.available() == 0 { break }
                    continue
                }
                let (a, b) = ring.segments(span)
                for segment in [a, b] {
                    for j in 0..<segment.count {
                        check(segment.timestamps[j], segment.values[2 * j], segment.values[2 * j + 1])
                    }
                }
                c.release(span.count)
                size = size >= 180 ? 1 : size + 60  // 1, 61, 121, 181, 1, ...
            }
            return bad == 0 ? received : -bad - 1
        }
        _ = await producing.value
        let received = await consuming.value
        #expect(received > 0, "every received frame was in order and intact")
        let counters = ring.counters
        #expect(counters.droppedOldest > 0, "the reader was slow enough for the drop path to run")
        #expect(UInt64(received + counters.droppedOldest + counters.rejectedNewest) == total)
        #expect(ring.count == 0)
    }
}

/// A flag one thread sets and another reads.
final class ManagedAtomicFlag: Sendable {
    private let flag = Atomic<Bool>(false)
    func set() { flag.store(true, ordering: .releasing) }
    var isSet: Bool { flag.load(ordering: .acquiring) }
}

extension Thread {
    /// Runs `body` on a new OS thread (not the cooperative pool, which a spinning loop would starve) and
    /// returns a task that completes with its result.
    static func detachedRun(_ body: @escaping @Sendable () -> Int) -> Task<Int, Never> {
        let box = ResultBox()
        let thread = Thread {
            box.set(body())
        }
        thread.stackSize = 1 << 20
        thread.start()
        return Task { await box.value() }
    }
}

final class ResultBox: @unchecked Sendable {
    // @unchecked: guarded by `lock`.
    private let lock = NSLock()
    private var result: Int?
    private var waiter: CheckedContinuation<Int, Never>?

    func set(_ value: Int) {
        lock.lock()
        result = value
        let w = waiter
        waiter = nil
        lock.unlock()
        w?.resume(returning: value)
    }

    func value() async -> Int {
        await withCheckedContinuation { continuation in
            lock.lock()
            if let result {
                lock.unlock()
                continuation.resume(returning: result)
            } else {
                waiter = continuation
                lock.unlock()
            }
        }
    }
}
