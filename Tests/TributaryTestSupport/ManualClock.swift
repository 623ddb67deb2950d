import Synchronization

/// A clock that moves only when told to, for tests of code that takes `some Clock`.
public final class ManualClock: Clock, Sendable {
    /// An instant of the manual clock.
    public struct Instant: InstantProtocol {
        /// Time since the clock's start.
        public var offset: Duration

        /// Creates an instant.
        public init(offset: Duration) { self.offset = offset }
        /// Moves the instant.
        public func advanced(by duration: Duration) -> Instant { Instant(offset: offset + duration) }
        /// The time from this instant to `other`.
        public func duration(to other: Instant) -> Duration { other.offset - offset }
        /// Orders instants.
        public static func < (lhs: Instant, rhs: Instant) -> Bool { lhs.offset < rhs.offset }
    }

    private let current = Mutex(Instant(offset: .zero))

    /// Creates a clock at offset zero.
    public init() {}

    /// The current instant.
    public var now: Instant { current.withLock { $0 } }
    /// The smallest step.
    public var minimumResolution: Duration { .nanoseconds(1) }

    /// Moves time forward.
    public func advance(by duration: Duration) { current.withLock { $0 = $0.advanced(by: duration) } }

    /// Suspends until the clock reaches `deadline` (polling: tests advance the clock from elsewhere).
    public func sleep(until deadline: Instant, tolerance: Duration?) async throws {
        while now < deadline {
            try Task.checkCancellation()
            await Task.yield()
        }
    }
}
