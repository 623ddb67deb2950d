import GRDB

extension StateStore {
    /// The task's federation epoch, made (random, never 0) the first time it is asked for: it names this state,
    /// so devices can tell its rounds from those of an earlier state that numbered rounds from 1 as well.
    public func epoch(task: String) throws(StateError) -> UInt64 {
        try write { db in
            if let stored = try Int64.fetchOne(db, sql: "SELECT epoch FROM tasks WHERE id = ?", arguments: [task]) {
                return UInt64(bitPattern: stored)
            }
            let epoch = UInt64.random(in: 1...UInt64.max)
            try db.execute(
                sql: "UPDATE tasks SET epoch = ? WHERE id = ?", arguments: [Int64(bitPattern: epoch), task])
            return epoch
        }
    }

    /// Counts a batch's rejections per source and reason (one upsert per pair, however many the batch held);
    /// known devices' rejection counters move too.
    static func count(_ rejected: [Rejection], task: String, _ db: Database) throws {
        struct Key: Hashable {
            var source: String
            var reason: String
        }
        var groups: [Key: (count: Int, first: Int64, last: Int64, round: UInt32)] = [:]
        var perDevice: [String: (count: Int, at: Int64)] = [:]
        for rejection in rejected {
            let key = Key(source: rejection.known ? rejection.device : unknownSource, reason: rejection.reason)
            let old = groups[key] ?? (0, rejection.at, rejection.at, rejection.round)
            groups[key] = (old.count + 1, min(old.first, rejection.at), max(old.last, rejection.at), rejection.round)
            if rejection.known {
                let device = perDevice[rejection.device] ?? (0, rejection.at)
                perDevice[rejection.device] = (device.count + 1, max(device.at, rejection.at))
            }
        }
        let upsert = try db.cachedStatement(
            sql: """
                INSERT INTO rejection_counts (task, source, reason, count, first_at, last_at, last_round)
                VALUES (?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (task, source, reason) DO UPDATE SET count = count + excluded.count,
                    last_at = excluded.last_at, last_round = excluded.last_round
                """)
        for (key, group) in groups {
            try upsert.execute(arguments: [
                task, key.source, key.reason, group.count, group.first, group.last, Int64(group.round),
            ])
        }
        for (device, counted) in perDevice {
            try touch(db, device, at: counted.at, accepted: 0, rejected: counted.count, bytes: 0)
        }
    }

    /// The source rejections of devices the aggregator does not know are counted under.
    public static let unknownSource = "(unknown)"

    /// Rejections by source and reason, as counted.
    public func rejectionSources(task: String) throws(StateError) -> [String: [String: Int]] {
        try read { db in
            var result: [String: [String: Int]] = [:]
            for row in try Row.fetchAll(
                db, sql: "SELECT source, reason, count FROM rejection_counts WHERE task = ?", arguments: [task])
            {
                result[row["source"], default: [:]][row["reason"]] = row["count"]
            }
            return result
        }
    }

    /// Forgets the history of rounds older than the newest `keep`: their round rows, metrics and update records
    /// (aggregated ones only; their payloads went at aggregation). The file then stays bounded however long the
    /// task runs (SQLite reuses the freed pages).
    public func pruneHistory(task: String, currentRound: UInt32, keep: Int) throws(StateError) {
        let oldest = Int64(currentRound) - Int64(keep)
        guard oldest > 0 else { return }
        try write { db in
            try db.execute(sql: "DELETE FROM rounds WHERE task = ? AND round <= ?", arguments: [task, oldest])
            try db.execute(sql: "DELETE FROM metrics WHERE task = ? AND round <= ?", arguments: [task, oldest])
            try db.execute(
                sql: """
                    DELETE FROM updates WHERE task = ? AND round <= ?
                        AND id <= (SELECT watermark FROM tasks WHERE id = ?)
                    """,
                arguments: [task, oldest, task])
        }
    }

    /// The devices in the device table (what `limits.max_devices` bounds).
    public func knownDevices() throws(StateError) -> Set<String> {
        try read { db in Set(try String.fetchAll(db, sql: "SELECT id FROM devices")) }
    }
}
