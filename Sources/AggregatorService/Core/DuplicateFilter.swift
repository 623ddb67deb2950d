/// The aggregator's one answer to "was this device's update for this round accepted already?" (a resend, after
/// an acknowledgement was lost). The updates not yet aggregated (the current round's, staged or committed) are
/// held here; an update for another round was accepted only if the state database has it. Every role asks it
/// before anything else decides about an update.
struct DuplicateFilter {
    struct Key: Hashable {
        var round: UInt32
        var device: String
    }

    let store: StateStore
    let task: String
    var pending: Set<Key> = []

    init(store: StateStore, task: String) {
        self.store = store
        self.task = task
    }

    /// Whether `device`'s update for `round` was accepted before. `current` is the round collecting now: its
    /// updates are all in memory, so only other rounds cost a database read (a read that fails counts as not
    /// accepted, and is the caller's to log).
    func contains(round: UInt32, device: String, current: UInt32?) throws -> Bool {
        if pending.contains(Key(round: round, device: device)) { return true }
        guard round != current else { return false }
        return try store.hasUpdate(task: task, round: round, device: device)
    }

    /// An update was accepted (staged).
    mutating func insert(round: UInt32, device: String) {
        pending.insert(Key(round: round, device: device))
    }

    /// The round's updates are aggregated (or the round failed, or a shard moved on): they are the database's.
    mutating func removeAll() {
        pending.removeAll()
    }
}
