public import Glibc

/// One dedicated thread that runs blocking work (SQLite commits with fsync, checkpoint files) in order, so it
/// never occupies a thread of Swift's cooperative pool; callers await each job's result.
public final class WorkerThread: @unchecked Sendable {
    // @unchecked: `jobs` and `stopped` are touched only with `mutex` held.
    private var mutex = pthread_mutex_t()
    private var ready = pthread_cond_t()
    private var jobs: [@Sendable () -> Void] = []
    private var stopped = false

    /// Starts the thread.
    public init() {
        pthread_mutex_init(&mutex, nil)
        pthread_cond_init(&ready, nil)
        Threads.detach { [self] in serve() }
    }

    deinit {
        pthread_cond_destroy(&ready)
        pthread_mutex_destroy(&mutex)
    }

    private func serve() {
        while true {
            pthread_mutex_lock(&mutex)
            while jobs.isEmpty && !stopped { pthread_cond_wait(&ready, &mutex) }
            if jobs.isEmpty && stopped {
                pthread_mutex_unlock(&mutex)
                return
            }
            let job = jobs.removeFirst()
            pthread_mutex_unlock(&mutex)
            job()
        }
    }

    private func enqueue(_ job: @escaping @Sendable () -> Void) {
        pthread_mutex_lock(&mutex)
        jobs.append(job)
        pthread_mutex_unlock(&mutex)
        pthread_cond_signal(&ready)
    }

    /// Runs `body` on the thread, after the jobs before it; returns its result or throws its error.
    public func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            enqueue { continuation.resume(with: Result { try body() }) }
        }
    }

    /// Finishes the jobs queued so far, then ends the thread.
    public func stop() {
        pthread_mutex_lock(&mutex)
        stopped = true
        pthread_mutex_unlock(&mutex)
        pthread_cond_signal(&ready)
    }
}
