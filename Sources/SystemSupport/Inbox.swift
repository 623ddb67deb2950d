public import Glibc

/// Items handed from a producer thread (an MQTT network thread, a socket reader) to one async consumer (a
/// service's loop): appended without waiting while there is room, taken in batches, with a timed wait for the
/// first item so the consumer reacts at once instead of polling.
///
/// Bounded: at most ``capacity`` items and ``maxBytes`` bytes wait. When it is full, ``put(_:bytes:waitForRoom:)``
/// waits up to the given time for the consumer to make room (back-pressure: a network thread that waits stops
/// reading its socket, and the broker holds the messages), then refuses the item, counting it in ``shed``; the
/// caller decides what a refusal means (a QoS 1 update is resent by its device, which got no acknowledgement).
public final class Inbox<Item: Sendable>: @unchecked Sendable {
    // @unchecked: every field below is touched only with `mutex` held.
    private var mutex = pthread_mutex_t()
    private var room = pthread_cond_t()
    private var items: [Item] = []
    private var sizes: [Int] = []
    private var head = 0
    private var bytes = 0
    private var waiter: CheckedContinuation<Void, Never>?
    private var closed = false
    private var refused = 0

    /// Most items waiting.
    public let capacity: Int
    /// Most bytes waiting (as the producer declares them).
    public let maxBytes: Int

    /// An inbox holding at most `capacity` items and `maxBytes` bytes.
    public init(capacity: Int = .max, maxBytes: Int = .max) {
        precondition(capacity > 0 && maxBytes > 0, "an inbox needs room for something")
        self.capacity = capacity
        self.maxBytes = maxBytes
        pthread_mutex_init(&mutex, nil)
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        pthread_cond_init(&room, &attributes)
        pthread_condattr_destroy(&attributes)
    }

    deinit {
        pthread_cond_destroy(&room)
        pthread_mutex_destroy(&mutex)
    }

    private func locked<R>(_ body: () -> R) -> R {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        return body()
    }

    private var waiting: Int { items.count - head }

    private func fits(_ size: Int) -> Bool {
        waiting < capacity && (waiting == 0 || bytes + size <= maxBytes)
    }

    /// Adds an item of `bytes` bytes. When full, waits up to `waitForRoom` for room; returns false (the item is
    /// refused and counted in ``shed``) if there is none then, or when the inbox is closed.
    @discardableResult
    public func put(_ item: Item, bytes size: Int = 0, waitForRoom: Duration = .zero) -> Bool {
        pthread_mutex_lock(&mutex)
        if !closed && !fits(size) && waitForRoom > .zero {
            var deadline = timespec()
            clock_gettime(CLOCK_MONOTONIC, &deadline)
            let (seconds, attoseconds) = waitForRoom.components
            let nanoseconds = Int(deadline.tv_nsec) + Int(attoseconds / 1_000_000_000)
            deadline.tv_sec += Int(seconds) + nanoseconds / 1_000_000_000
            deadline.tv_nsec = nanoseconds % 1_000_000_000
            while !closed && !fits(size) {
                if pthread_cond_timedwait(&room, &mutex, &deadline) == ETIMEDOUT { break }
            }
        }
        guard !closed, fits(size) else {
            if !closed { refused += 1 }
            pthread_mutex_unlock(&mutex)
            return false
        }
        items.append(item)
        sizes.append(size)
        bytes += size
        let resumed = waiter
        waiter = nil
        pthread_mutex_unlock(&mutex)
        resumed?.resume()
        return true
    }

    /// Up to `max` items, oldest first, waiting up to `timeout` for the first; empty on time-out or when closed.
    public func take(timeout: Duration, max: Int = .max) async -> [Item] {
        if let ready = takeNow(max: max) { return ready }
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                await withCheckedContinuation { continuation in
                    let resumeNow = self.locked { () -> Bool in
                        if self.waiting > 0 || self.closed { return true }
                        self.waiter = continuation
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

    /// Up to `max` items now, or nil when none waits.
    public func takeNow(max: Int = .max) -> [Item]? {
        let batch = locked { () -> [Item]? in
            guard waiting > 0 else { return nil }
            let end = head + Swift.min(max, waiting)
            let batch = Array(items[head..<end])
            for i in head..<end { bytes -= sizes[i] }
            head = end
            if head == items.count {
                items.removeAll(keepingCapacity: true)
                sizes.removeAll(keepingCapacity: true)
                head = 0
            } else if head > 4_096 && head * 2 > items.count {
                items.removeFirst(head)
                sizes.removeFirst(head)
                head = 0
            }
            return batch
        }
        if batch != nil { pthread_cond_broadcast(&room) }
        return batch
    }

    /// Wakes a waiting ``take(timeout:max:)`` (it returns what there is, possibly nothing).
    public func wake() {
        let resumed = locked { () -> CheckedContinuation<Void, Never>? in
            defer { waiter = nil }
            return waiter
        }
        resumed?.resume()
    }

    /// Whether ``close()`` was called.
    public var isClosed: Bool { locked { closed } }

    /// Items waiting.
    public var count: Int { locked { waiting } }

    /// Items refused because the inbox was full.
    public var shed: Int { locked { refused } }

    /// Stops accepting items and wakes everyone waiting; what is inside can still be taken.
    public func close() {
        locked { closed = true }
        pthread_cond_broadcast(&room)
        wake()
    }
}
