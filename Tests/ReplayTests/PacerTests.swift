import Synchronization
import Testing

@testable import Replay

/// A virtual clock whose every sleep overshoots its deadline by a fixed amount, like a loaded scheduler, and
/// which only moves when slept on or told to.
final class OversleepingClock: Clock, Sendable {
    struct Instant: InstantProtocol {
        var offset: Duration
        func advanced(by duration: Duration) -> Instant { Instant(offset: offset + duration) }
        func duration(to other: Instant) -> Duration { other.offset - offset }
        static func < (lhs: Instant, rhs: Instant) -> Bool { lhs.offset < rhs.offset }
    }

    let oversleep: Duration
    let current = Mutex(Instant(offset: .zero))
    let sleeps = Mutex(0)

    init(oversleep: Duration) { self.oversleep = oversleep }

    var now: Instant { current.withLock { $0 } }
    var minimumResolution: Duration { .nanoseconds(1) }

    func sleep(until deadline: Instant, tolerance: Duration?) async throws {
        sleeps.withLock { $0 += 1 }
        current.withLock { $0 = Instant(offset: max($0.offset, deadline.offset) + oversleep) }
    }

    /// Work that takes time (publishing a batch).
    func work(_ duration: Duration) { current.withLock { $0 = $0.advanced(by: duration) } }
}

@Suite struct PacerTests {
    @Test("a late wake-up delays one batch and is absorbed: lag never accumulates", arguments: [1.0, 10.0])
    func noAccumulatedLag(speed: Double) async throws {
        let clock = OversleepingClock(oversleep: .milliseconds(7))
        let pacer = Pacer(clock: clock, speed: speed)
        var worst = Duration.zero
        for batch in 1...1_000 {
            let offset = Int64(batch) * 100_000_000  // a batch every 100 ms of data
            let late = try await pacer.wait(until: offset)
            #expect(clock.now >= pacer.due(offset))  // never early
            worst = max(worst, late)
            clock.work(.milliseconds(2))
        }
        // 1,000 sleeps of +7 ms and 2 ms of work each would be 9 s behind if every wait were relative; from the
        // start it is at most one oversleep.
        #expect(worst <= .milliseconds(7))
        let expectedEnd = Duration.nanoseconds(Int64(100_000_000_000 / speed))
        #expect(clock.now.offset <= expectedEnd + .milliseconds(9))
        #expect(clock.now.offset >= expectedEnd)
    }

    @Test("at ×N the due instants are the data times divided by N")
    func speed() {
        let clock = OversleepingClock(oversleep: .zero)
        let pacer = Pacer(clock: clock, speed: 4)
        #expect(pacer.due(4_000_000_000).offset == .seconds(1))
        #expect(pacer.due(0).offset == .zero)
    }
}
