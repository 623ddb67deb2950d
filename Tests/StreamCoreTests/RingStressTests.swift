import Foundation
import StreamCore
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
