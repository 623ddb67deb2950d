import Dispatch
import Foundation
import Synchronization

/// Independent work spread over the machine's cores: signature checks and signatures cost more than everything
/// else an update costs the aggregator, and each message's is independent of the others'.
enum Parallel {
    /// Threads used: the cores the process may run on.
    static let cores = max(1, ProcessInfo.processInfo.activeProcessorCount)

    /// `items.map(transform)`, in order, on up to ``cores`` threads when there are at least `grain` items per
    /// thread (fewer run on the calling thread).
    static func map<T: Sendable, R: Sendable>(_ items: [T], grain: Int = 8, _ transform: @Sendable (T) -> R) -> [R] {
        let threads = min(cores, items.count / max(1, grain))
        guard threads > 1 else { return items.map(transform) }
        let parts = Mutex<[[R]]>(Array(repeating: [], count: threads))
        DispatchQueue.concurrentPerform(iterations: threads) { part in
            let range = (items.count * part / threads)..<(items.count * (part + 1) / threads)
            let done = items[range].map(transform)
            parts.withLock { $0[part] = done }
        }
        return parts.withLock { $0.flatMap { $0 } }
    }
}
