public import Configuration
public import Documents
import Federation
import Foundation

/// Reads `tributary-aggregator`'s YAML file over the defaults, applies `TRIBUTARY_AGGREGATOR_*` environment
/// variables (`TRIBUTARY_AGGREGATOR_BROKER_PORT=1884`, `TRIBUTARY_AGGREGATOR_ROUNDS_DURATION_S=10`), decodes and
/// validates.
public enum ConfigLoader {
    /// The environment variables' prefix.
    public static let environmentPrefix = "TRIBUTARY_AGGREGATOR_"

    /// Loads `path` with the process's environment.
    public static func load(path: String) throws(ConfigError) -> AggregatorConfig {
        try load(path: path, environment: ProcessInfo.processInfo.environment)
    }

    /// Loads `path` with the given environment.
    public static func load(path: String, environment: [String: String]) throws(ConfigError) -> AggregatorConfig {
        try parse(yaml: YAMLConfiguration.read(path), environment: environment, source: path)
    }

    /// Parses YAML text.
    public static func parse(yaml: String, environment: [String: String] = [:], source: String = "configuration")
        throws(ConfigError) -> AggregatorConfig
    {
        let loader = YAMLConfiguration(environmentPrefix: environmentPrefix, rejectsUnknownKeys: true)
        var config = try loader.decode(
            AggregatorConfig.self, yaml: yaml, defaults: defaults, environment: environment, source: source)
        if config.task.hash == nil { config.task = config.task.sealed() }
        try config.validate()
        return config
    }

    /// The default configuration as a tree, with defaults for the task's optional parts.
    static var defaults: Document {
        let placeholder = TaskSpec(
            task: "task", model: .init(head: .linear, inputs: 1),
            data: .init(stream: "s", channels: [0], windowFrames: 2, hopFrames: 1, features: ["mean"]))
        var tree = YAMLConfiguration.tree(of: AggregatorConfig(task: placeholder))
        tree.set(["task"], to: taskDefaults(tree["task"] ?? [:]))
        return tree
    }

    /// Defaults for a task specification's optional parts (given the encoded placeholder).
    public static func taskDefaults(_ encoded: Document) -> Document {
        [
            "v": 1, "training": encoded["training"] ?? [:], "codec": encoded["codec"] ?? [:],
            "model": ["outputs": 1, "hidden": [], "activation": "relu", "init_seed": 1],
        ]
    }
}
