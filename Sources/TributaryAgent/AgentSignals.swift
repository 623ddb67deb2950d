import Agent
import Glibc
import Synchronization
import SystemSupport

/// The services a shutdown signal stops.
enum AgentSignals {
    static let services = Mutex<[AgentService]>([])

    /// Blocks SIGTERM/SIGINT in every thread and waits for them on one: the first stops the running services
    /// (they save their state and say goodbye to the broker); with none running yet, the process exits. Called
    /// before anything else starts a thread.
    static func install() {
        ShutdownSignals.install { signal in
            let running = services.withLock { $0 }
            guard !running.isEmpty else { exit(128 + signal) }
            for service in running { service.shutdown() }
        }
    }
}
