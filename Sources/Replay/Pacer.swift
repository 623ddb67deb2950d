/// Decides when data time becomes wall time during playback, without accumulating lag.
///
/// Every due instant is computed from the start (`start + offset / speed`), never from the previous sleep, so
/// an oversleep, a slow publish or a scheduler hiccup delays one batch and is absorbed by the next wait: after
/// any number of batches the lag is what the last wait cost, not the sum of all of them.
public struct Pacer<C: Clock>: Sendable where C.Duration == Duration, C: Sendable {
    /// The clock (`ContinuousClock` in the tool; an injected clock in tests).
    public let clock: C
    /// Playback speed: 1 = real time, 10 = ten times faster.
    public let speed: Double
    /// When offset 0 was due.
    public let start: C.Instant

    /// Starts pacing now.
    public init(clock: C, speed: Double) {
        precondition(speed > 0 && speed.isFinite, "speed must be positive")
        self.clock = clock
        self.speed = speed
        start = clock.now
    }

    /// The instant data that is `offset` nanoseconds after the start is due.
    public func due(_ offset: Int64) -> C.Instant {
        start.advanced(by: .nanoseconds(Int64((Double(offset) / speed).rounded())))
    }

    /// Waits until data at `offset` is due (at once if that is past). Returns how late the clock was when it
    /// returned (zero or more).
    @discardableResult
    public func wait(until offset: Int64) async throws -> Duration {
        let deadline = due(offset)
        if clock.now < deadline { try await clock.sleep(until: deadline, tolerance: nil) }
        let late = deadline.duration(to: clock.now)
        return late > .zero ? late : .zero
    }
}
