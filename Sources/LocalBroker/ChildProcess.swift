public import Glibc
import Synchronization
import SystemSupport

/// A child process started with `posix_spawn`, with a clean signal mask and default signal dispositions.
///
/// Foundation's `Process` lets the child inherit the spawning thread's signal mask; Swift's worker threads block
/// SIGTERM and SIGINT, so a daemon started that way never sees them and cannot shut down gracefully. Tests that
/// stop services with SIGTERM (or check that they shut down cleanly) use this instead.
public final class ChildProcess: Sendable {
    /// The process id.
    public let pid: pid_t
    private let exitStatus = Mutex<Int32?>(nil)

    /// Starts `executable` with `arguments`; standard output and error go to the files named (appended), or
    /// to /dev/null.
    public init(
        _ executable: String,
        _ arguments: [String],
        environment: [String: String]? = nil,
        standardOutput: String? = nil,
        standardError: String? = nil
    ) throws(ChildProcessError) {
        var fileActions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&fileActions)
        defer { posix_spawn_file_actions_destroy(&fileActions) }
        posix_spawn_file_actions_addopen(&fileActions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(
            &fileActions, 1, standardOutput ?? "/dev/null",
            O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_addopen(
            &fileActions, 2, standardError ?? standardOutput ?? "/dev/null",
            O_WRONLY | O_CREAT | O_APPEND, 0o644)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var emptyMask = sigset_t()
        sigemptyset(&emptyMask)
        var allSignals = sigset_t()
        sigfillset(&allSignals)
        posix_spawnattr_setsigmask(&attributes, &emptyMask)
        posix_spawnattr_setsigdefault(&attributes, &allSignals)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        let environmentPairs = (environment ?? Environment.current).map { strdup("\($0.key)=\($0.value)") }
        let envp = environmentPairs + [nil]
        defer { environmentPairs.forEach { free($0) } }

        var pid: pid_t = 0
        let rc = posix_spawn(&pid, executable, &fileActions, &attributes, argv, envp)
        guard rc == 0 else { throw .spawnFailed(executable, errno: rc) }
        self.pid = pid
    }

    deinit {
        if exitStatus.withLock({ $0 }) == nil {
            Glibc.kill(pid, SIGKILL)
            var status: Int32 = 0
            waitpid(pid, &status, 0)
        }
    }

    /// Sends `signal` to the process.
    public func send(_ signal: Int32) {
        if exitStatus.withLock({ $0 }) == nil { Glibc.kill(pid, signal) }
    }

    /// Whether the process is still running (reaps it if it has exited).
    public var isRunning: Bool { poll() == nil }

    /// The exit status once the process has exited: the exit code, or 128 + signal number.
    public var terminationStatus: Int32? { poll() }

    private func poll() -> Int32? {
        exitStatus.withLock { known in
            if let known { return known }
            var status: Int32 = 0
            let result = waitpid(pid, &status, WNOHANG)
            guard result == pid else { return nil }
            let code = (status & 0x7F) == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
            known = code
            return code
        }
    }

    /// Waits up to `timeout` for the process to exit; returns its status, or nil if it still runs.
    @discardableResult
    public func waitForExit(timeout: Duration) async -> Int32? {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let status = poll() { return status }
            try? await Task.sleep(for: .milliseconds(5))
        }
        return poll()
    }

    /// Sends SIGTERM, waits up to `grace`, then SIGKILL. Returns the exit status.
    @discardableResult
    public func terminate(grace: Duration = .seconds(10)) async -> Int32? {
        send(SIGTERM)
        if let status = await waitForExit(timeout: grace) { return status }
        send(SIGKILL)
        return await waitForExit(timeout: .seconds(5))
    }
}

/// Why a child process could not be started.
public enum ChildProcessError: Error, CustomStringConvertible {
    /// `posix_spawn` failed.
    case spawnFailed(String, errno: Int32)

    /// A readable explanation.
    public var description: String {
        switch self {
        case .spawnFailed(let path, let errno): "cannot start \(path): \(String(cString: strerror(errno)))"
        }
    }
}
