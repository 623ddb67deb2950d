public import Federation

/// What an aggregator is in a federation, and everything that follows from it: which topics it listens to,
/// whether it runs the rounds, whether it may commit a batch while receiving the next. Made from the
/// configuration's `hierarchy` section; a new role is a new case here and a branch where it differs.
public enum AggregatorRole: Sendable, Hashable {
    /// One aggregator for the whole task: rounds, updates, the model.
    case single
    /// One of several that split the updates through a shared subscription and publish cumulative partials;
    /// it follows the root's rounds.
    case shard(id: String, group: String)
    /// Runs the rounds and merges the shards' partials; it receives no update itself.
    case root(shards: [String], graceMilliseconds: Int64)

    /// The role a validated `hierarchy` section describes.
    public init(_ hierarchy: AggregatorConfig.Hierarchy) {
        switch hierarchy.role {
        case "shard": self = .shard(id: hierarchy.shardId ?? "", group: hierarchy.group)
        case "root": self = .root(shards: hierarchy.shards, graceMilliseconds: Int64(hierarchy.graceS * 1_000))
        default: self = .single
        }
    }

    /// A kind of message the aggregator takes in.
    public enum Input: Sendable, Hashable {
        /// Device updates.
        case update
        /// Device statuses (online, offline).
        case status
        /// The root's round announcements (a shard follows them).
        case round
        /// Shards' partials (the root merges them).
        case partial
    }

    /// What this role subscribes to, with the largest message it takes of each kind.
    public func inputs(_ topics: Topics, limits: AggregatorConfig.Limits) -> [(
        filter: String, input: Input, limit: Int
    )] {
        switch self {
        case .single:
            return [
                (topics.updates, .update, limits.maxUpdateBytes),
                (topics.deviceStatuses, .status, ControlJSON.maxStatusBytes),
            ]
        case .shard(_, let group):
            return [
                (topics.sharedUpdates(group: group), .update, limits.maxUpdateBytes),
                (topics.round, .round, ControlJSON.maxBytes),
            ]
        case .root:
            return [
                (topics.deviceStatuses, .status, ControlJSON.maxStatusBytes),
                (topics.partials, .partial, PartialMessage.maxBytes),
            ]
        }
    }

    /// Whether it announces rounds and publishes the task's retained messages (a shard follows instead).
    public var runsRounds: Bool {
        if case .shard = self { false } else { true }
    }

    /// Whether a batch without round actions may be committed while the next is received: only where nothing
    /// else is published from the aggregate (a shard's partials must hold durable updates only).
    public var overlapsCommits: Bool { self == .single }

    /// The root's wait for late partials after a round's deadline; 0 for the others.
    public var graceMilliseconds: Int64 {
        if case .root(_, let grace) = self { grace } else { 0 }
    }

    /// Whether this is the root of a hierarchy.
    public var isRoot: Bool {
        if case .root = self { true } else { false }
    }

    /// The shards a root waits for; empty for the others.
    public var shards: [String] {
        if case .root(let shards, _) = self { shards } else { [] }
    }

    /// The shard's id, or nil.
    public var shardID: String? {
        if case .shard(let id, _) = self { id } else { nil }
    }
}
