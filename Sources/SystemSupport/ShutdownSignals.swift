import Glibc

/// SIGTERM and SIGINT as a request to shut down, without Foundation or Dispatch: the signals are blocked in every
/// thread and one thread waits for them. The first calls the handler; a second one ends the process at once.
public enum ShutdownSignals {
    /// Installs the handler. Call it first thing in `main`, before any thread or task starts, so that every
    /// thread inherits the blocked signals (a thread that does not would be killed by them).
    public static func install(_ handler: @escaping @Sendable (Int32) -> Void) {
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGTERM)
        sigaddset(&set, SIGINT)
        pthread_sigmask(SIG_BLOCK, &set, nil)
        let signals = set
        Threads.detach {
            var waited = signals
            var count = 0
            while true {
                var signal: Int32 = 0
                guard sigwait(&waited, &signal) == 0 else { continue }
                count += 1
                if count == 1 {
                    handler(signal)
                } else {
                    printError("second signal \(signal): exiting without a clean shutdown")
                    _exit(128 + signal)
                }
            }
        }
    }
}
