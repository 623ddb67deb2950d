import Foundation
import GRDB

/// The aggregator's durable state in SQLite (through GRDB): the task and its round machine, the device
/// registry, rounds, accepted updates (with their payloads until their round is aggregated, so a restart
/// rebuilds the aggregate exactly), rejections with reasons, and metrics history.
///
/// Commits are durable (WAL with `synchronous = FULL`): an update is acknowledged to its device only after the
/// transaction that records it has committed. Updates beyond the task's watermark are the ones not yet
/// aggregated; their payloads live in `payloads` (same id) and are deleted by id range once aggregated, so
/// finishing a round costs a few statements however many updates it had. One task per database.
public final class StateStore: Sendable {
    let queue: DatabaseQueue

    /// Opens (creating and migrating) the database at `path`.
    public init(path: String) throws(StateError) {
        var configuration = Configuration()
        configuration.busyMode = .timeout(5)
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = FULL")
            // The write-ahead log is checkpointed every 1,000 pages (SQLite's default), and cut back to 8 MiB
            // after a checkpoint: a round of large updates must not leave a log of its size behind for good.
            try db.execute(sql: "PRAGMA journal_size_limit = 8388608")
        }
        do {
            queue = try DatabaseQueue(path: path, configuration: configuration)
            try queue.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA journal_mode = WAL") }
            try Self.migrator.migrate(queue)
        } catch {
            throw StateError(.database, "cannot open the state database \(path)", underlying: error)
        }
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(
                sql: """
                    CREATE TABLE tasks (
                        id TEXT PRIMARY KEY, spec BLOB NOT NULL, machine BLOB, model_round INTEGER NOT NULL DEFAULT 0,
                        model_hash TEXT, checkpoint TEXT, watermark INTEGER NOT NULL DEFAULT 0, updated_at INTEGER);
                    CREATE TABLE devices (
                        id TEXT PRIMARY KEY, first_seen INTEGER NOT NULL, last_seen INTEGER NOT NULL,
                        status TEXT NOT NULL DEFAULT 'unknown', accepted INTEGER NOT NULL DEFAULT 0,
                        rejected INTEGER NOT NULL DEFAULT 0, bytes_in INTEGER NOT NULL DEFAULT 0);
                    CREATE TABLE rounds (
                        task TEXT NOT NULL, round INTEGER NOT NULL, started_at INTEGER, deadline INTEGER,
                        status TEXT NOT NULL, participants INTEGER NOT NULL DEFAULT 0, total_weight REAL NOT NULL DEFAULT 0,
                        model_hash TEXT, checkpoint TEXT, finished_at INTEGER, PRIMARY KEY (task, round));
                    CREATE TABLE updates (
                        id INTEGER PRIMARY KEY AUTOINCREMENT, task TEXT NOT NULL, round INTEGER NOT NULL,
                        device TEXT NOT NULL, staleness INTEGER NOT NULL, weight REAL NOT NULL, bytes INTEGER NOT NULL,
                        accepted_at INTEGER NOT NULL, UNIQUE (task, round, device));
                    CREATE TABLE payloads (id INTEGER PRIMARY KEY, data BLOB NOT NULL);
                    CREATE TABLE rejections (
                        id INTEGER PRIMARY KEY AUTOINCREMENT, task TEXT NOT NULL, round INTEGER NOT NULL,
                        device TEXT NOT NULL, reason TEXT NOT NULL, at INTEGER NOT NULL);
                    CREATE TABLE metrics (
                        task TEXT NOT NULL, round INTEGER NOT NULL, at INTEGER NOT NULL, json BLOB NOT NULL,
                        PRIMARY KEY (task, round));
                    """)
        }
        migrator.registerMigration("v2-registry") { db in
            // The fleet's devices as the operator enrolled them (`tributary provision`): public signing key and
            // status (active or revoked). Replaced as a whole at each import of the registry file.
            try db.execute(
                sql: """
                    CREATE TABLE registry (
                        device TEXT PRIMARY KEY, public_key TEXT NOT NULL, status TEXT NOT NULL,
                        imported_at INTEGER NOT NULL);
                    """)
        }
        migrator.registerMigration("v3-recovery") { db in
            // The federation epoch (random, made with the task's state), and rejections counted per source and
            // reason instead of one row each (a flood of refusals must not grow the file).
            try db.execute(
                sql: """
                    ALTER TABLE tasks ADD COLUMN epoch INTEGER;
                    CREATE TABLE rejection_counts (
                        task TEXT NOT NULL, source TEXT NOT NULL, reason TEXT NOT NULL, count INTEGER NOT NULL,
                        first_at INTEGER NOT NULL, last_at INTEGER NOT NULL, last_round INTEGER NOT NULL,
                        PRIMARY KEY (task, source, reason));
                    INSERT INTO rejection_counts (task, source, reason, count, first_at, last_at, last_round)
                        SELECT task, device, reason, COUNT(*), MIN(at), MAX(at), MAX(round) FROM rejections
                        GROUP BY task, device, reason;
                    DROP TABLE rejections;
                    """)
        }
        return migrator
    }

    /// One enrolled device, as the registry table holds it.
    public struct RegistryEntry: Sendable, Hashable, Codable {
        /// Device id.
        public var id: String
        /// Its Ed25519 public key, 64 hex digits.
        public var publicKey: String
        /// `active` or `revoked`.
        public var status: String

        /// An entry.
        public init(id: String, publicKey: String, status: String) {
            self.id = id
            self.publicKey = publicKey
            self.status = status
        }
    }

    /// Replaces the registry with `entries` (one transaction).
    public func replaceRegistry(_ entries: [RegistryEntry], at: Int64) throws(StateError) {
        try write { db in
            try db.execute(sql: "DELETE FROM registry")
            for entry in entries {
                try db.execute(
                    sql: "INSERT INTO registry (device, public_key, status, imported_at) VALUES (?, ?, ?, ?)",
                    arguments: [entry.id, entry.publicKey, entry.status, at])
            }
        }
    }

    /// The registry as last imported.
    public func registry() throws(StateError) -> [RegistryEntry] {
        try read { db in
            try Row.fetchAll(db, sql: "SELECT device, public_key, status FROM registry ORDER BY device").map {
                RegistryEntry(id: $0["device"], publicKey: $0["public_key"], status: $0["status"])
            }
        }
    }

    /// What is stored about a task.
    public struct TaskRecord: Sendable, Hashable {
        /// The specification's JSON.
        public var spec: [UInt8]
        /// The round machine's snapshot (JSON).
        public var machine: [UInt8]?
        /// Round (version) of the current model.
        public var modelRound: UInt32
        /// The current model's checkpoint file.
        public var checkpoint: String?
    }

    /// The task, if it was served before.
    public func task(_ id: String) throws(StateError) -> TaskRecord? {
        try read { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT * FROM tasks WHERE id = ?", arguments: [id]) else {
                return nil
            }
            return TaskRecord(
                spec: [UInt8](row["spec"] as Data), machine: (row["machine"] as Data?).map { [UInt8]($0) },
                modelRound: UInt32(row["model_round"] as Int64), checkpoint: row["checkpoint"])
        }
    }

    /// An accepted update to record.
    public struct AcceptedUpdate: Sendable, Hashable {
        /// Round (version) it was trained for.
        public var round: UInt32
        /// The device.
        public var device: String
        /// Versions behind the current model.
        public var staleness: Int
        /// Sample weight.
        public var weight: Double
        /// The message as received.
        public var payload: [UInt8]
        /// Arrival (ms since the epoch).
        public var at: Int64

        /// Creates a record.
        public init(round: UInt32, device: String, staleness: Int, weight: Double, payload: [UInt8], at: Int64) {
            self.round = round
            self.device = device
            self.staleness = staleness
            self.weight = weight
            self.payload = payload
            self.at = at
        }
    }

    /// A rejected update to record.
    public struct Rejection: Sendable, Hashable {
        /// Round it claimed.
        public var round: UInt32
        /// The device (from the topic).
        public var device: String
        /// The reason code.
        public var reason: String
        /// When (ms).
        public var at: Int64
        /// Whether the device is one the aggregator knows (enrolled, or within `limits.max_devices`): an unknown
        /// one is counted under the source `(unknown)` and gets no row in the device table.
        public var known: Bool

        /// Creates a record.
        public init(round: UInt32, device: String, reason: String, at: Int64, known: Bool = true) {
            self.round = round
            self.device = device
            self.reason = reason
            self.at = at
            self.known = known
        }
    }

    /// Records a batch of accepted and rejected updates in one transaction (a group commit: one fsync for the
    /// batch). The device registry's counters for accepted updates are brought up to date when the round ends
    /// (one statement instead of one per update).
    public func record(task: String, accepted: [AcceptedUpdate], rejected: [Rejection]) throws(StateError) {
        try write { db in
            // Prepared once per connection (GRDB caches them): a batch of a thousand updates is a thousand binds,
            // not a thousand parses.
            let insert = try db.cachedStatement(
                sql: """
                    INSERT OR IGNORE INTO updates (task, round, device, staleness, weight, bytes, accepted_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?)
                    """)
            let insertPayload = try db.cachedStatement(sql: "INSERT INTO payloads (id, data) VALUES (?, ?)")
            for update in accepted {
                try insert.execute(arguments: [
                    task, Int64(update.round), update.device, update.staleness, update.weight, update.payload.count,
                    update.at,
                ])
                guard db.changesCount > 0 else { continue }
                try insertPayload.execute(arguments: [db.lastInsertedRowID, Data(update.payload)])
            }
            try Self.count(rejected, task: task, db)
        }
    }

    /// Saves the round machine's snapshot.
    public func saveMachine(task: String, machine: [UInt8]) throws(StateError) {
        try write { db in
            try db.execute(
                sql: "UPDATE tasks SET machine = ?, updated_at = ? WHERE id = ?",
                arguments: [Data(machine), Int64(Date().timeIntervalSince1970 * 1_000), task])
        }
    }

    static func touch(_ db: Database, _ device: String, at: Int64, accepted: Int, rejected: Int, bytes: Int) throws {
        try db.cachedStatement(
            sql: """
                INSERT INTO devices (id, first_seen, last_seen, accepted, rejected, bytes_in) VALUES (?, ?, ?, ?, ?, ?)
                ON CONFLICT (id) DO UPDATE SET last_seen = excluded.last_seen, accepted = accepted + excluded.accepted,
                    rejected = rejected + excluded.rejected, bytes_in = bytes_in + excluded.bytes_in
                """
        ).execute(arguments: [device, at, at, accepted, rejected, bytes])
    }

    /// Notes a device's status (online/offline).
    public func deviceStatus(_ device: String, status: String, at: Int64) throws(StateError) {
        try write { db in
            try db.execute(
                sql: """
                    INSERT INTO devices (id, first_seen, last_seen, status) VALUES (?, ?, ?, ?)
                    ON CONFLICT (id) DO UPDATE SET last_seen = excluded.last_seen, status = excluded.status
                    """,
                arguments: [device, at, at, status])
        }
    }

    /// Whether an update of `device` for `round` was accepted before (resends are answered as duplicates).
    public func hasUpdate(task: String, round: UInt32, device: String) throws(StateError) -> Bool {
        try read { db in
            try Bool.fetchOne(
                db, sql: "SELECT 1 FROM updates WHERE task = ? AND round = ? AND device = ?",
                arguments: [task, Int64(round), device]) ?? false
        }
    }

    /// Accepted updates not yet aggregated, in arrival order (to rebuild the aggregate after a restart).
    public func pendingUpdates(task: String) throws(StateError) -> [AcceptedUpdate] {
        try read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT u.round, u.device, u.staleness, u.weight, p.data, u.accepted_at FROM updates u
                    JOIN payloads p ON p.id = u.id
                    WHERE u.task = ? AND u.id > (SELECT watermark FROM tasks WHERE id = ?) ORDER BY u.id
                    """,
                arguments: [task, task]
            ).map { row in
                AcceptedUpdate(
                    round: UInt32(row["round"] as Int64), device: row["device"], staleness: row["staleness"],
                    weight: row["weight"], payload: [UInt8]((row["data"] as Data?) ?? Data()), at: row["accepted_at"])
            }
        }
    }

    /// Registers a task (first start) or updates its specification.
    public func saveTask(_ id: String, spec: [UInt8], machine: [UInt8], modelRound: UInt32, checkpoint: String?)
        throws(StateError)
    {
        try write { db in
            try db.execute(
                sql: """
                    INSERT INTO tasks (id, spec, machine, model_round, checkpoint, updated_at) VALUES (?, ?, ?, ?, ?, ?)
                    ON CONFLICT (id) DO UPDATE SET spec = excluded.spec, machine = excluded.machine,
                        model_round = excluded.model_round, checkpoint = excluded.checkpoint,
                        updated_at = excluded.updated_at
                    """,
                arguments: [
                    id, Data(spec), Data(machine), Int64(modelRound), checkpoint,
                    Int64(Date().timeIntervalSince1970 * 1_000),
                ])
        }
    }

    /// Records a finished round in one transaction: its row, the metrics, the new checkpoint and machine
    /// snapshot, and marks its updates aggregated (dropping their payloads).
    public func finishRound(
        task: String, round: UInt32, status: String, participants: [String], totalWeight: Double,
        modelHash: String, checkpoint: String?, metrics: [UInt8], machine: [UInt8], at: Int64
    ) throws(StateError) {
        try write { db in
            try db.execute(
                sql: """
                    INSERT OR REPLACE INTO rounds (task, round, status, participants, total_weight, model_hash, checkpoint,
                        finished_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [task, Int64(round), status, participants.count, totalWeight, modelHash, checkpoint, at])
            try db.execute(
                sql: "INSERT OR REPLACE INTO metrics (task, round, at, json) VALUES (?, ?, ?, ?)",
                arguments: [task, Int64(round), at, Data(metrics)])
            // Everything received so far was folded in (or, for a failed round, dropped): move the watermark.
            try Self.advanceWatermark(db, task: task, through: nil)
            if status == "aggregated" {
                try db.execute(
                    sql: "UPDATE tasks SET model_round = ?, model_hash = ?, checkpoint = ?, machine = ? WHERE id = ?",
                    arguments: [Int64(round), modelHash, checkpoint, Data(machine), task])
            } else {
                try db.execute(sql: "UPDATE tasks SET machine = ? WHERE id = ?", arguments: [Data(machine), task])
            }
        }
    }

    /// Moves the task's watermark to its newest update (or the newest of rounds before `round`).
    static func advanceWatermark(_ db: Database, task: String, through round: UInt32?) throws {
        let newest: Int64?
        if let round {
            newest = try Int64.fetchOne(
                db, sql: "SELECT MAX(id) FROM updates WHERE task = ? AND round < ?", arguments: [task, Int64(round)])
        } else {
            newest = try Int64.fetchOne(db, sql: "SELECT MAX(id) FROM updates WHERE task = ?", arguments: [task])
        }
        guard let newest else { return }
        // The registry's counters for the updates now behind the watermark, in one statement.
        try db.execute(
            sql: """
                INSERT INTO devices (id, first_seen, last_seen, accepted, bytes_in)
                SELECT device, MIN(accepted_at), MAX(accepted_at), COUNT(*), SUM(bytes) FROM updates
                WHERE task = ? AND id > (SELECT watermark FROM tasks WHERE id = ?) AND id <= ? GROUP BY device
                ON CONFLICT (id) DO UPDATE SET last_seen = MAX(last_seen, excluded.last_seen),
                    accepted = accepted + excluded.accepted, bytes_in = bytes_in + excluded.bytes_in
                """,
            arguments: [task, task, newest])
        try db.execute(sql: "UPDATE tasks SET watermark = MAX(watermark, ?) WHERE id = ?", arguments: [newest, task])
    }

    /// Deletes the payloads of aggregated updates (behind the watermark). Not needed for correctness (they are
    /// not read again), so the service runs it when idle rather than on a round's critical path.
    public func prunePayloads(task: String) throws(StateError) {
        try write { db in
            try db.execute(
                sql: "DELETE FROM payloads WHERE id <= (SELECT watermark FROM tasks WHERE id = ?)", arguments: [task])
        }
    }

    /// Shard: marks the updates of rounds before `round` as forwarded to the root (their payloads dropped).
    public func markForwarded(task: String, before round: UInt32) throws(StateError) {
        try write { db in try Self.advanceWatermark(db, task: task, through: round) }
    }

    /// The latest metrics messages, newest first.
    public func recentMetrics(task: String, limit: Int = 10) throws(StateError) -> [[UInt8]] {
        try read { db in
            try Data.fetchAll(
                db, sql: "SELECT json FROM metrics WHERE task = ? ORDER BY round DESC LIMIT ?",
                arguments: [task, limit]
            ).map { [UInt8]($0) }
        }
    }

    /// Device registry counts.
    public struct DeviceCounts: Sendable, Hashable {
        /// Devices known.
        public var known: Int
        /// Devices whose last status was online.
        public var online: Int
    }

    /// How many devices are known and online.
    public func deviceCounts() throws(StateError) -> DeviceCounts {
        try read { db in
            let known = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM devices") ?? 0
            let online = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM devices WHERE status = 'online'") ?? 0
            return DeviceCounts(known: known, online: online)
        }
    }

    /// Rejections by reason for a task.
    public func rejectionCounts(task: String) throws(StateError) -> [String: Int] {
        try read { db in
            var counts: [String: Int] = [:]
            for row in try Row.fetchAll(
                db, sql: "SELECT reason, SUM(count) AS n FROM rejection_counts WHERE task = ? GROUP BY reason",
                arguments: [task])
            {
                counts[row["reason"]] = row["n"]
            }
            return counts
        }
    }

    /// Accepted updates of a task, counted.
    public func acceptedCount(task: String) throws(StateError) -> Int {
        try read { db in
            try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM updates WHERE task = ?", arguments: [task]) ?? 0
        }
    }

    func read<T>(_ body: (Database) throws -> T) throws(StateError) -> T {
        do { return try queue.read(body) } catch {
            throw StateError(.database, "reading the state database", underlying: error)
        }
    }

    func write<T>(_ body: (Database) throws -> T) throws(StateError) -> T {
        do { return try queue.write(body) } catch {
            throw StateError(.database, "writing the state database", underlying: error)
        }
    }
}
