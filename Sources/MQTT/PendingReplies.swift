import Synchronization

/// Matches broker replies (SUBACK, UNSUBACK) to the callers waiting for them by packet id, tolerating a reply
/// that arrives before the caller registered.
final class PendingReplies<Value: Sendable>: Sendable {
    private struct State {
        var waiters: [Int32: CheckedContinuation<Value?, Never>] = [:]
        var early: [Int32: Value] = [:]
    }

    private let state = Mutex(State())

    /// Waits for the reply to `mid`; nil if the client closed first.
    func wait(for mid: Int32) async -> Value? {
        await withCheckedContinuation { continuation in
            let early = state.withLock { s -> Value?? in
                if let value = s.early.removeValue(forKey: mid) { return .some(value) }
                s.waiters[mid] = continuation
                return .none
            }
            if case .some(let value) = early { continuation.resume(returning: value) }
        }
    }

    /// Delivers the reply to `mid`.
    func deliver(_ value: Value, for mid: Int32) {
        let waiter = state.withLock { s -> CheckedContinuation<Value?, Never>? in
            if let waiter = s.waiters.removeValue(forKey: mid) { return waiter }
            s.early[mid] = value
            return nil
        }
        waiter?.resume(returning: value)
    }

    /// Wakes every waiter with nil.
    func cancelAll() {
        let waiters = state.withLock { s -> [CheckedContinuation<Value?, Never>] in
            let all = Array(s.waiters.values)
            s.waiters.removeAll()
            s.early.removeAll()
            return all
        }
        for w in waiters { w.resume(returning: nil) }
    }
}
