import Logging
import Synchronization
import TributaryWire

/// Logs rejected sensor batches without flooding the log: the first ten each with its reason, then one line
/// every ten seconds saying how many more there were and the last reason. Every rejection is also counted by
/// reason in the ingest's counters (the status and summaries report them), so nothing is silent.
final class RejectionLog: Sendable {
    let logger: Logger
    let source: String
    let state = Mutex<(logged: Int, lastLine: ContinuousClock.Instant, since: Int)>((0, .now, 0))

    init(logger: Logger, source: String) {
        self.logger = logger
        self.source = source
    }

    /// One rejection (`total` rejections so far).
    func record(_ error: WireError, total: Int) {
        let now = ContinuousClock.now
        let line = state.withLock { s -> String? in
            if s.logged < 10 {
                s.logged += 1
                s.lastLine = now
                return "\(source): rejected a sensor batch: \(error)"
            }
            s.since += 1
            guard now - s.lastLine >= .seconds(10) else { return nil }
            defer {
                s.lastLine = now
                s.since = 0
            }
            return "\(source): \(s.since) more sensor batches rejected (\(total) in all), the last: \(error)"
        }
        if let line { logger.warning("\(line)") }
    }

    /// The callback an ingest reports rejections to.
    var callback: @Sendable (WireError, Int) -> Void { { [self] error, total in record(error, total: total) } }
}
