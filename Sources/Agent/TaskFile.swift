public import Federation
import Foundation
public import ServiceSupport

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
            let decoder = JSONDecoder()
            decoder.keyDecodingStrategy = .convertFromSnakeCase
            do { spec = try decoder.decode(TaskSpec.self, from: Data(text.utf8)) } catch {
                throw ConfigError(key: path, problem: "not a task specification: \(error)")
            }
        } else {
            let defaults: [String: Any] = [
                "task": [
                    "v": 1, "training": YAMLConfiguration.tree(of: TaskSpec.Training()),
                    "codec": YAMLConfiguration.tree(of: TaskSpec.Codec()),
                    "model": ["outputs": 1, "hidden": [Int](), "activation": "relu", "init_seed": 1],
                ] as [String: Any]
            ]
            let loader = YAMLConfiguration(environmentPrefix: "TRIBUTARY_TASK_", knownKeys: [])
            spec = try loader.decode(Wrapper.self, yaml: text, defaults: defaults, environment: [:], source: path).task
        }
        if spec.hash == nil { spec = spec.sealed() }
        do { try spec.validate() } catch { throw ConfigError(key: "task", problem: error.description) }
        return spec
    }
}
