import Synchronization

/// What one sender may put into the aggregator's inbox: a token bucket per topic (each device writes only its own
/// update and status topics, so a topic is a device's updates or its statuses). A device gets `burst` messages at
/// once and `perSecond` more each second; the network thread drops what is over it before the inbox, so no
/// device, enrolled, revoked or forged, can fill the inbox, stall the loop behind its acknowledgements, or make
/// the aggregator check and store a flood of replayed statuses.
final class SenderBudget: Sendable {
    struct Bucket {
        var tokens: Double
        var at: Int64
    }

    /// Messages at once, and per second after them.
    let burst: Double
    let perSecond: Double
    /// Topics remembered at most (a full table starts over, forgetting every bucket: a budget is a nuisance
    /// limit, not a ledger).
    let maxTopics: Int
    let buckets = Mutex<[String: Bucket]>([:])
    /// Messages dropped.
    let dropped = Atomic<Int>(0)

    init(burst: Int, perSecond: Double, maxTopics: Int = 200_000) {
        self.burst = Double(max(1, burst))
        self.perSecond = max(0, perSecond)
        self.maxTopics = max(1, maxTopics)
    }

    /// Whether a message on `topic` at `now` (milliseconds) fits its sender's budget; it is spent if so.
    func allow(_ topic: String, now: Int64) -> Bool {
        let allowed = buckets.withLock { table -> Bool in
            if table.count >= maxTopics && table[topic] == nil { table.removeAll(keepingCapacity: true) }
            var bucket = table[topic] ?? Bucket(tokens: burst, at: now)
            bucket.tokens = min(burst, bucket.tokens + Double(max(0, now - bucket.at)) / 1_000 * perSecond)
            bucket.at = now
            let fits = bucket.tokens >= 1
            if fits { bucket.tokens -= 1 }
            table[topic] = bucket
            return fits
        }
        if !allowed { dropped.add(1, ordering: .relaxed) }
        return allowed
    }
}
