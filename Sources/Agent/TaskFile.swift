public import Configuration
import Documents
public import Federation

/// A task specification from a file: JSON as the aggregator publishes it, or the `task:` section of an
/// aggregator configuration (YAML), with the same defaults.
public enum TaskFile {
    struct Wrapper: Decodable {
        var task: TaskSpec
    }

    /// Loads, seals (if unsealed) and validates.
    public static func load(_ path: String) throws(ConfigError) -> TaskSpec {
        let text = try YAMLConfiguration.read(path)
        var spec: TaskSpec
        if text.drop(while: { $0.isWhitespace }).first == "{" {
            do { spec = try DocumentDecoder().decode(TaskSpec.self, from: YAMLParser.parse(text)) } catch {
                throw ConfigError(key: path, problem: "not a task specification: \(error)")
            }
        } else {
            let defaults: Document = [
                "task": [
                    "v": 1, "training": YAMLConfiguration.tree(of: TaskSpec.Training()),
                    "codec": YAMLConfiguration.tree(of: TaskSpec.Codec()),
                    "model": ["outputs": 1, "hidden": [], "activation": "relu", "init_seed": 1],
                ]
            ]
            let loader = YAMLConfiguration(environmentPrefix: "TRIBUTARY_TASK_")
            spec = try loader.decode(Wrapper.self, yaml: text, defaults: defaults, environment: [:], source: path).task
        }
        if spec.hash == nil { spec = spec.sealed() }
        do { try spec.validate() } catch { throw ConfigError(key: "task", problem: error.description) }
        return spec
    }
}
