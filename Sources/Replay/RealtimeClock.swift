import Glibc

/// The system's wall clock, for stamping frames as live devices do.
enum RealtimeClock {
    /// Nanoseconds since the Unix epoch.
    static func nanoseconds() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
    }
}
