public import TributaryWire

/// What a device remembers of each federation epoch it took part in: the newest round announced, the newest
/// model held and the newest round it built an update for. Rounds only move forwards within an epoch; a new
/// epoch (the aggregator's state was reset) starts its own memory. A few epochs are kept, so a stale retained
/// message of an earlier epoch (a broker restored it) is recognised as old rather than followed.
public struct RoundMemory: Sendable, Hashable {
    /// One epoch's memory.
    public struct Entry: Sendable, Hashable {
        /// The newest round announced.
        public var round: UInt32 = 0
        /// The round and hash of the newest model adopted.
        public var modelRound: UInt32 = 0
        /// Its hash.
        public var modelHash: UInt64 = 0
        /// The newest round an update was built for.
        public var built: UInt32 = 0
        /// When (the machine's clock, ms) the newest announcement or model of the epoch was taken (0 after a
        /// restart: not saved).
        public var seenAt: Int64 = 0
        /// When the device entered the epoch, as a count of epochs entered: a later epoch has a larger one.
        public var order: UInt32 = 0

        /// An empty entry.
        public init() {}
    }

    /// Most epochs remembered; the one entered longest ago is forgotten first.
    public static let capacity = 8

    /// The memory, by epoch.
    public private(set) var entries: [UInt64: Entry] = [:]

    /// An empty memory.
    public init() {}

    /// The entry of `epoch`, if remembered.
    public subscript(epoch: UInt64) -> Entry? { entries[epoch] }

    /// The largest ``Entry/order`` remembered.
    public var newestOrder: UInt32 { entries.values.map(\.order).max() ?? 0 }

    /// Changes (creating if needed, as the newest entered) the entry of `epoch`, forgetting the one entered
    /// longest ago beyond ``capacity``.
    public mutating func update(_ epoch: UInt64, _ change: (inout Entry) -> Void) {
        var entry = entries[epoch] ?? Entry()
        if entries[epoch] == nil { entry.order = newestOrder + 1 }
        change(&entry)
        entries[epoch] = entry
        while entries.count > Self.capacity, let oldest = entries.min(by: { $0.value.order < $1.value.order }) {
            entries[oldest.key] = nil
        }
    }

    /// Moves the entry of `from` to `to` (keeping its order), replacing any entry `to` had.
    public mutating func rename(_ from: UInt64, to: UInt64) {
        guard let entry = entries.removeValue(forKey: from) else { return }
        entries[to] = entry
    }

    /// Bytes for the agent's saved state: count (u8), then per epoch: epoch (u64), round, model round (u32),
    /// model hash (u64), built, order (u32). Times are not kept (they are the running machine's clock).
    public var bytes: [UInt8] {
        var w = ByteWriter(capacity: 1 + 32 * entries.count)
        w.write(UInt8(entries.count))
        for (epoch, entry) in entries.sorted(by: { $0.key < $1.key }) {
            w.write(epoch)
            w.write(entry.round)
            w.write(entry.modelRound)
            w.write(entry.modelHash)
            w.write(entry.built)
            w.write(entry.order)
        }
        return w.bytes
    }

    /// Reads ``bytes`` from a saved state.
    public init(reading r: inout ByteReader) throws(WireError) {
        let count = Int(try r.read(UInt8.self, "epoch count"))
        guard count <= Self.capacity else {
            throw WireError(.countOutOfRange, "\(count) epochs (at most \(Self.capacity))")
        }
        for _ in 0..<count {
            let epoch = try r.read(UInt64.self, "epoch")
            var entry = Entry()
            entry.round = try r.read(UInt32.self, "round")
            entry.modelRound = try r.read(UInt32.self, "model round")
            entry.modelHash = try r.read(UInt64.self, "model hash")
            entry.built = try r.read(UInt32.self, "built round")
            entry.order = try r.read(UInt32.self, "order")
            entries[epoch] = entry
        }
    }
}
