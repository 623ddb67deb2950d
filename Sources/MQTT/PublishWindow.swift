import Synchronization

/// Bounds the publications handed to libmosquitto and not yet completed, and delivers completions
/// (PUBACK/PUBCOMP, or "written" for QoS 0) to publishers that wait for them.
///
/// libmosquitto queues without limit and numbers packets with 16 bits; more than 65,535 in flight collide and
/// lose messages. Publishers take a slot before calling into the library and the network thread frees it on
/// completion. A completion can beat the publisher's registration (the network thread is fast); it is then parked
/// in `early` and consumed by the registration, so no slot leaks and no waiter hangs.
final class PublishWindow: Sendable {
    /// Completion result: an MQTT 5 reason code (0 on 3.1.1), or `closedReason` when the client shut down.
    typealias Reason = Int32
    static let closedReason: Reason = -1

    private struct Entry {
        var qos: Int32
        var waiter: CheckedContinuation<Reason, Never>?
    }

    private struct State {
        var limit: Int
        var reserved = 0
        var outstanding: [Int32: Entry] = [:]
        var early: [Int32: Reason] = [:]
        var slotWaiters: [CheckedContinuation<Bool, Never>] = []
        var closed = false

        var used: Int { reserved + outstanding.count }

        /// Hands a freed slot to the first waiting publisher, if any.
        mutating func grantSlot() -> CheckedContinuation<Bool, Never>? {
            guard !slotWaiters.isEmpty, used < limit else { return nil }
            reserved += 1
            return slotWaiters.removeFirst()
        }

        /// Waiting publishers are woken once the window has drained to its low-water mark, not at every single
        /// completion: a saturated publisher then costs one thread wake-up per `limit / 8` messages instead of one
        /// per message.
        var lowWater: Int { limit - max(1, limit / 8) }

        mutating func grantSlotsAfterCompletion() -> [CheckedContinuation<Bool, Never>] {
            guard !slotWaiters.isEmpty, used <= lowWater else { return [] }
            var granted: [CheckedContinuation<Bool, Never>] = []
            while let next = grantSlot() { granted.append(next) }
            return granted
        }
    }

    private let state: Mutex<State>

    init(limit: Int) {
        precondition((1...65_000).contains(limit), "maxInFlight must be within 1...65000")
        var initial = State(limit: limit)
        initial.outstanding.reserveCapacity(limit)
        state = Mutex(initial)
    }

    /// Publications currently in flight (reserved or handed to the library).
    var inFlight: Int { state.withLock { $0.used } }

    /// Takes a slot, waiting for one if the window is full. Returns false if the client closed.
    func acquire() async -> Bool {
        if let immediate = tryAcquireOrClosed() { return immediate }
        return await withCheckedContinuation { continuation in
            let resumeNow: Bool? = state.withLock { s in
                if s.closed { return false }
                if s.used < s.limit {
                    s.reserved += 1
                    return true
                }
                s.slotWaiters.append(continuation)
                return nil
            }
            if let resumeNow { continuation.resume(returning: resumeNow) }
        }
    }

    /// Takes a slot without waiting: nil when the window is full, false when closed.
    func tryAcquireOrClosed() -> Bool? {
        state.withLock { s in
            if s.closed { return false }
            guard s.used < s.limit else { return nil }
            s.reserved += 1
            return true
        }
    }

    /// Gives back a slot whose publication never reached the library.
    func cancelReservation() {
        let grant = state.withLock { s -> CheckedContinuation<Bool, Never>? in
            s.reserved -= 1
            return s.grantSlot()
        }
        grant?.resume(returning: true)
    }

    /// Records that the reserved slot now belongs to packet `mid`; `waiter` (if any) hears its completion.
    func register(mid: Int32, qos: Int32, waiter: CheckedContinuation<Reason, Never>?) {
        let (early, grant, closed) = state.withLock { s -> (Reason?, CheckedContinuation<Bool, Never>?, Bool) in
            s.reserved -= 1
            if let reason = s.early.removeValue(forKey: mid) {
                return (reason, s.grantSlot(), false)
            }
            if s.closed { return (nil, nil, true) }
            s.outstanding[mid] = Entry(qos: qos, waiter: waiter)
            return (nil, nil, false)
        }
        grant?.resume(returning: true)
        if let early { waiter?.resume(returning: early) }
        if closed { waiter?.resume(returning: Self.closedReason) }
    }

    /// Called on the network thread when packet `mid` completes.
    func complete(mid: Int32, reason: Reason) {
        let (waiter, grants) = state.withLock {
            s -> (CheckedContinuation<Reason, Never>?, [CheckedContinuation<Bool, Never>]) in
            guard let entry = s.outstanding.removeValue(forKey: mid) else {
                if s.reserved > 0 { s.early[mid] = reason }
                return (nil, [])
            }
            return (entry.waiter, s.grantSlotsAfterCompletion())
        }
        for grant in grants { grant.resume(returning: true) }
        waiter?.resume(returning: reason)
    }

    /// Forgets QoS 0 packets: libmosquitto discards unsent QoS 0 packets when a connection drops, so they never
    /// complete. Their waiters hear a closed connection.
    func dropUnsentQoS0() {
        let (waiters, grants) = state.withLock {
            s -> ([CheckedContinuation<Reason, Never>], [CheckedContinuation<Bool, Never>]) in
            var waiters: [CheckedContinuation<Reason, Never>] = []
            for (mid, entry) in s.outstanding where entry.qos == 0 {
                s.outstanding[mid] = nil
                if let w = entry.waiter { waiters.append(w) }
            }
            var grants: [CheckedContinuation<Bool, Never>] = []
            while let g = s.grantSlot() { grants.append(g) }
            return (waiters, grants)
        }
        for w in waiters { w.resume(returning: Self.closedReason) }
        for g in grants { g.resume(returning: true) }
    }

    /// Fails every waiter and refuses new publications.
    func close() {
        let (waiters, slotWaiters) = state.withLock {
            s -> ([CheckedContinuation<Reason, Never>], [CheckedContinuation<Bool, Never>]) in
            s.closed = true
            let waiters = s.outstanding.values.compactMap(\.waiter)
            s.outstanding.removeAll()
            s.early.removeAll()
            let slots = s.slotWaiters
            s.slotWaiters.removeAll()
            return (waiters, slots)
        }
        for w in waiters { w.resume(returning: Self.closedReason) }
        for w in slotWaiters { w.resume(returning: false) }
    }

    /// Accepts publications again after ``close()`` (a client connecting anew).
    func reopen() {
        state.withLock { $0.closed = false }
    }
}
