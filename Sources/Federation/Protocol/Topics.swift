/// The MQTT topics of one task under a prefix (docs/architecture.md, docs/wire-format.md).
public struct Topics: Sendable, Hashable {
    /// The prefix, `tributary/v1` by default.
    public var prefix: String
    /// The task id.
    public var task: String

    /// Topics of `task` under `prefix`.
    public init(prefix: String = "tributary/v1", task: String) {
        self.prefix = prefix
        self.task = task
    }

    var base: String { "\(prefix)/fl/\(task)" }
    /// Retained task specification (JSON).
    public var spec: String { "\(base)/spec" }
    /// Retained round announcement (JSON).
    public var round: String { "\(base)/round" }
    /// Retained global model (binary, dense).
    public var model: String { "\(base)/model" }
    /// Sparse model deltas on the model devices hold (binary, not retained).
    public var modelDelta: String { "\(base)/model/delta" }
    /// Retained round results (JSON).
    public var metrics: String { "\(base)/metrics" }
    /// A device's update (binary).
    public func update(_ device: String) -> String { "\(base)/update/\(device)" }
    /// Every device's updates.
    public var updates: String { "\(base)/update/+" }
    /// Every device's updates through a shared subscription, so several aggregators split them.
    public func sharedUpdates(group: String) -> String { "$share/\(group)/\(base)/update/+" }
    /// The aggregator's acknowledgement of a device's update (JSON, QoS 1, not retained).
    public func ack(_ device: String) -> String { "\(base)/ack/\(device)" }
    /// A shard's partial aggregate for the root (JSON).
    public func partial(_ shard: String) -> String { "\(base)/partial/\(shard)" }
    /// Every shard's partials.
    public var partials: String { "\(base)/partial/+" }
    /// A device's retained status (JSON; the agent's will sets it offline).
    public func deviceStatus(_ device: String) -> String { "\(prefix)/dev/\(device)/status" }
    /// Every device's status.
    public var deviceStatuses: String { "\(prefix)/dev/+/status" }

    /// The device id in an update topic (`…/update/{device}`), or nil for another topic.
    public func device(inUpdateTopic topic: String) -> String? {
        let head = "\(base)/update/"
        guard topic.hasPrefix(head) else { return nil }
        let device = topic.dropFirst(head.count)
        guard !device.isEmpty, !device.contains("/") else { return nil }
        return String(device)
    }

    /// The device id in a status topic (`{prefix}/dev/{device}/status`), or nil.
    public func device(inStatusTopic topic: String) -> String? {
        let head = "\(prefix)/dev/"
        guard topic.hasPrefix(head), topic.hasSuffix("/status") else { return nil }
        let device = topic.dropFirst(head.count).dropLast("/status".count)
        guard !device.isEmpty, !device.contains("/") else { return nil }
        return String(device)
    }

    /// The shard id in a partial topic, or nil.
    public func shard(inPartialTopic topic: String) -> String? {
        let head = "\(base)/partial/"
        guard topic.hasPrefix(head) else { return nil }
        let shard = topic.dropFirst(head.count)
        guard !shard.isEmpty, !shard.contains("/") else { return nil }
        return String(shard)
    }

    /// Whether `id` can be a device, task or shard id: 1…64 characters of letters, digits, `-`, `_`, `.`.
    public static func isValidID(_ id: String) -> Bool {
        (1...64).contains(id.utf8.count)
            && id.utf8.allSatisfy { c in
                (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c == 45 || c == 95 || c == 46
            }
    }
}
