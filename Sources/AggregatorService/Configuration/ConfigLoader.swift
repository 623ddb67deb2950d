import Federation
import Foundation
import Yams

/// Reads the YAML file, applies `TRIBUTARY_AGGREGATOR_*` environment variables (`TRIBUTARY_AGGREGATOR_` + the
/// key path in upper case joined by `_`: `TRIBUTARY_AGGREGATOR_BROKER_PORT=1884`,
/// `TRIBUTARY_AGGREGATOR_ROUNDS_DURATION_S=10`), decodes and validates.
public enum ConfigLoader {
    /// The environment variables' prefix.
    public static let environmentPrefix = "TRIBUTARY_AGGREGATOR_"

    /// Loads `path`.
    public static func load(path: String) throws(ConfigError) -> AggregatorConfig {
        try load(path: path, environment: ProcessInfo.processInfo.environment)
    }

    /// Loads `path` with the given environment.
    public static func load(path: String, environment: [String: String]) throws(ConfigError) -> AggregatorConfig {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw ConfigError(key: path, problem: "cannot read: \(error.localizedDescription)")
        }
        return try parse(yaml: text, environment: environment, source: path)
    }

    /// Parses YAML text.
    public static func parse(yaml: String, environment: [String: String] = [:], source: String = "configuration")
        throws(ConfigError) -> AggregatorConfig
    {
        let tree: Any?
        do { tree = try Yams.load(yaml: yaml) } catch {
            throw ConfigError(key: source, problem: "not valid YAML: \(error)")
        }
        guard let given = tree as? [String: Any] else {
            throw ConfigError(key: source, problem: "must be a mapping of keys to values")
        }
        // Every key has a default except the task's own (id, model sizes, data): the file gives what it changes.
        var root = merge(defaults, given)
        try applyEnvironment(&root, environment: environment)
        let json: Data
        do { json = try JSONSerialization.data(withJSONObject: root) } catch {
            throw ConfigError(key: source, problem: "cannot be represented as JSON: \(error)")
        }
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        let config: AggregatorConfig
        do { config = try decoder.decode(AggregatorConfig.self, from: json) } catch let DecodingError.keyNotFound(
            key, context)
        {
            throw ConfigError(key: path(context.codingPath + [key]), problem: "is required")
        } catch let DecodingError.typeMismatch(type, context) {
            throw ConfigError(key: path(context.codingPath), problem: "must be \(describe(type))")
        } catch let DecodingError.valueNotFound(type, context) {
            throw ConfigError(key: path(context.codingPath), problem: "must be \(describe(type)), not null")
        } catch let DecodingError.dataCorrupted(context) {
            throw ConfigError(key: path(context.codingPath), problem: context.debugDescription)
        } catch {
            throw ConfigError(key: source, problem: "\(error)")
        }
        var sealed = config
        if sealed.task.hash == nil { sealed.task = sealed.task.sealed() }
        try sealed.validate()
        return sealed
    }

    /// The default configuration as a JSON-like tree, with defaults for the task's optional parts.
    static var defaults: [String: Any] {
        let placeholder = TaskSpec(
            task: "task", model: .init(head: .linear, inputs: 1),
            data: .init(
                stream: "s", channels: [0], windowFrames: 2, hopFrames: 1, features: ["mean"]))
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        guard let data = try? encoder.encode(AggregatorConfig(task: placeholder)),
            var tree = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any],
            let task = tree["task"] as? [String: Any]
        else { return [:] }
        tree["task"] =
            [
                "v": 1, "training": task["training"] ?? [:], "codec": task["codec"] ?? [:],
                "model": ["outputs": 1, "hidden": [Int](), "activation": "relu", "init_seed": 1],
            ] as [String: Any]
        return tree
    }

    /// `overlay` on `base`, mappings merged key by key, anything else replaced.
    static func merge(_ base: [String: Any], _ overlay: [String: Any]) -> [String: Any] {
        var result = base
        for (key, value) in overlay {
            if let inner = value as? [String: Any], let existing = result[key] as? [String: Any] {
                result[key] = merge(existing, inner)
            } else {
                result[key] = value
            }
        }
        return result
    }

    /// Applies `TRIBUTARY_AGGREGATOR_A_B=value` to key `a.b` (creating sections as needed); a value is read as
    /// YAML (numbers, booleans, null, lists in `[ ]`).
    static func applyEnvironment(_ root: inout [String: Any], environment: [String: String]) throws(ConfigError) {
        for (name, value) in environment.sorted(by: { $0.key < $1.key }) where name.hasPrefix(environmentPrefix) {
            let rest = name.dropFirst(environmentPrefix.count).lowercased()
            guard let keyPath = resolve(rest, in: root, known: knownKeys) else {
                throw ConfigError(key: name, problem: "names no configuration key")
            }
            let parsed: Any
            do { parsed = try Yams.load(yaml: value) ?? NSNull() } catch { parsed = value }
            set(&root, keyPath, parsed)
        }
    }

    /// Every key of the configuration, as paths (used to split environment variable names, whose keys contain `_`).
    static let knownKeys: [[String]] = [
        ["broker", "host"], ["broker", "port"], ["broker", "client_id"], ["broker", "username"],
        ["broker", "ca_file"], ["prefix"], ["state_dir"], ["http", "host"], ["http", "port"],
        ["rounds", "mode"], ["rounds", "duration_s"], ["rounds", "min_participants"], ["rounds", "max_rounds"],
        ["rounds", "selection", "mode"], ["rounds", "selection", "value"], ["rounds", "selection", "seed"],
        ["rounds", "local", "samples"], ["rounds", "local", "prox_mu"], ["rounds", "buffer_size"],
        ["rounds", "max_staleness"], ["strategy", "kind"], ["strategy", "server_learning_rate"],
        ["strategy", "beta1"], ["strategy", "beta2"], ["strategy", "tau"], ["strategy", "momentum"],
        ["strategy", "trim_fraction"], ["strategy", "clip_norm"], ["strategy", "staleness_exponent"],
        ["limits", "max_update_bytes"], ["limits", "max_devices"], ["hierarchy", "role"],
        ["hierarchy", "shard_id"], ["hierarchy", "shards"], ["hierarchy", "group"], ["hierarchy", "grace_s"],
        ["evaluation", "recording"], ["task", "task"], ["task", "training", "learning_rate"],
        ["task", "codec", "k_fraction"], ["task", "codec", "values"], ["task", "codec", "downlink_k_fraction"],
    ]

    static func resolve(_ flat: String, in root: [String: Any], known: [[String]]) -> [String]? {
        known.first { $0.joined(separator: "_") == flat }
    }

    static func set(_ node: inout [String: Any], _ path: [String], _ value: Any) {
        guard let first = path.first else { return }
        if path.count == 1 {
            node[first] = value
            return
        }
        var child = node[first] as? [String: Any] ?? [:]
        set(&child, Array(path.dropFirst()), value)
        node[first] = child
    }

    static func path(_ codingPath: [any CodingKey]) -> String {
        codingPath.map { key in
            key.intValue.map { "[\($0)]" } ?? snakeCase(key.stringValue)
        }.joined(separator: ".").replacingOccurrences(of: ".[", with: "[")
    }

    static func snakeCase(_ key: String) -> String {
        var result = ""
        for c in key {
            if c.isUppercase {
                result += "_" + c.lowercased()
            } else {
                result.append(c)
            }
        }
        return result
    }

    static func describe(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is Int.Type, is UInt64.Type, is UInt32.Type: "a whole number"
        case is Double.Type: "a number"
        case is Bool.Type: "true or false"
        default: "a \(type)"
        }
    }
}
