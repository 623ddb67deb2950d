import Synchronization

/// Messages handed from the MQTT network thread to the aggregator's task: appended without blocking, taken in
/// batches (so one commit covers many updates).
final class Inbox: Sendable {
    enum Item: Sendable {
        case update(topic: String, payload: [UInt8])
        case status(topic: String, payload: [UInt8])
        case partial(topic: String, payload: [UInt8])
        case round(payload: [UInt8])
    }

    struct State: ~Copyable {
        var items: [Item] = []
        var waiter: CheckedContinuation<Void, Never>?
        var closed = false
    }

    let state = Mutex(State())

    /// Adds an item (network thread).
    func put(_ item: Item) {
        let waiter = state.withLock { s -> CheckedContinuation<Void, Never>? in
            guard !s.closed else { return nil }
            s.items.append(item)
            defer { s.waiter = nil }
            return s.waiter
        }
        waiter?.resume()
    }

    /// Everything queued, waiting up to `timeout` for the first item; empty on time-out or when closed.
    func take(timeout: Duration, max: Int = 4_096) async -> [Item] {
        if let ready = takeNow(max: max) { return ready }
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                await withCheckedContinuation { continuation in
                    let resumeNow = self.state.withLock { s -> Bool in
                        if !s.items.isEmpty || s.closed { return true }
                        s.waiter = continuation
                        return false
                    }
                    if resumeNow { continuation.resume() }
                }
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                self.wake()
            }
            await group.next()
            group.cancelAll()
            self.wake()
        }
        return takeNow(max: max) ?? []
    }

    func takeNow(max: Int) -> [Item]? {
        state.withLock { s -> [Item]? in
            guard !s.items.isEmpty else { return nil }
            if s.items.count <= max {
                defer { s.items.removeAll(keepingCapacity: true) }
                return s.items
            }
            let batch = Array(s.items.prefix(max))
            s.items.removeFirst(max)
            return batch
        }
    }

    func wake() {
        let waiter = state.withLock { s -> CheckedContinuation<Void, Never>? in
            defer { s.waiter = nil }
            return s.waiter
        }
        waiter?.resume()
    }

    /// Whether ``close()`` was called.
    var isClosed: Bool { state.withLock { $0.closed } }

    /// Items waiting.
    var count: Int { state.withLock { $0.items.count } }

    /// Stops accepting items and wakes a waiting taker.
    func close() {
        state.withLock { $0.closed = true }
        wake()
    }
}
