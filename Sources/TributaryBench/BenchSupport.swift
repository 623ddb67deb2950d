import Dispatch
import Foundation
import Synchronization
import TributaryMath

/// Seconds elapsed while running `body`.
func measure(_ body: () throws -> Void) rethrows -> Double {
    let clock = ContinuousClock()
    let start = clock.now
    try body()
    return seconds(clock.now - start)
}

/// A duration in seconds.
func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}

/// Runs two closures on two new OS threads, released together from a start barrier; returns the time from the
/// release until the later one finished. The calling thread sleeps meanwhile (a spinning waiter would take a
/// core from the two being measured).
func runPair(_ first: @escaping @Sendable () -> Void, _ second: @escaping @Sendable () -> Void) -> Double {
    // Atomics are not copyable; share them through a box.
    final class Flags: Sendable {
        let ready = Atomic<Int>(0)
        let go = Atomic<Bool>(false)
        let finished = Mutex<[ContinuousClock.Instant]>([])
    }
    let flags = Flags()
    let clock = ContinuousClock()
    let done = DispatchSemaphore(value: 0)
    for body in [first, second] {
        let thread = Thread {
            flags.ready.add(1, ordering: .sequentiallyConsistent)
            while !flags.go.load(ordering: .acquiring) {}
            body()
            let end = clock.now
            flags.finished.withLock { $0.append(end) }
            done.signal()
        }
        thread.stackSize = 1 << 20
        thread.start()
    }
    while flags.ready.load(ordering: .acquiring) < 2 { sched_yield() }
    let start = clock.now
    flags.go.store(true, ordering: .releasing)
    done.wait()
    done.wait()
    let end = flags.finished.withLock { $0.max()! }
    return seconds(end - start)
}

/// Deterministic random numbers for workloads.
typealias BenchRandom = SeededRandom
