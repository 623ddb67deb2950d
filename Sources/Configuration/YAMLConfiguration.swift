public import Documents
import SystemSupport

/// A configuration problem, naming the key.
public struct ConfigError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The key, dotted (`rounds.duration_s`).
    public var key: String
    /// What is wrong.
    public var problem: String

    /// Creates an error.
    public init(key: String, problem: String) {
        self.key = key
        self.problem = problem
    }

    /// `key: problem`.
    public var description: String { "\(key): \(problem)" }
}

/// Service configuration files: YAML over defaults, then environment variables, decoded into a `Decodable`
/// with snake_case keys; every failure names its key.
///
/// Environment variables are `PREFIX` + the key path in upper case joined by `_` (`TRIBUTARY_AGENT_BROKER_PORT`);
/// since keys contain `_` themselves, the variable is matched against the known settings. The known settings
/// are the type's own: every key its `init(from:)` reads (``DocumentSchema``), never a list kept by hand.
public struct YAMLConfiguration: Sendable {
    /// Variables' prefix, such as `TRIBUTARY_AGGREGATOR_`.
    public var environmentPrefix: String

    /// Refuse a file key that is no setting of the type.
    public var rejectsUnknownKeys = false

    /// Creates a loader.
    public init(environmentPrefix: String, rejectsUnknownKeys: Bool = false) {
        self.environmentPrefix = environmentPrefix
        self.rejectsUnknownKeys = rejectsUnknownKeys
    }

    /// The settings of `T` as key paths: the leaves (values, lists, free-form mappings), not the sections.
    public static func settings<T: Decodable>(of type: T.Type, defaults: Document) -> [[String]] {
        let all = DocumentSchema.keyPaths(of: type, defaults: defaults)
        // Sorted, so a section comes right before the paths under it.
        return all.indices.compactMap { i in
            let next = i + 1 < all.count ? all[i + 1] : []
            let isSection = next.count > all[i].count && Array(next.prefix(all[i].count)) == all[i]
            return isSection ? nil : all[i]
        }
    }

    /// The first key of `tree` (as a dotted path) that no known setting starts with, or nil. Everything under a
    /// known leaf (a free-form section) is accepted.
    static func unknownKey(in tree: [String: Document], under path: [String], knownKeys: [[String]]) -> String? {
        for (key, value) in tree.sorted(by: { $0.key < $1.key }) {
            let keyPath = path + [key]
            if knownKeys.contains(where: { $0.count <= keyPath.count && Array(keyPath.prefix($0.count)) == $0 }) {
                continue
            }
            guard knownKeys.contains(where: { $0.count > keyPath.count && Array($0.prefix(keyPath.count)) == keyPath })
            else { return keyPath.joined(separator: ".") }
            if let child = value.mapping, let unknown = unknownKey(in: child, under: keyPath, knownKeys: knownKeys) {
                return unknown
            }
        }
        return nil
    }

    /// Reads a file.
    public static func read(_ path: String) throws(ConfigError) -> String {
        do { return String(decoding: try FileIO.readAll(path), as: UTF8.self) } catch {
            throw ConfigError(
                key: path, problem: "cannot \(error.function == "open" ? "open" : "read"): \(error.reason)")
        }
    }

    /// The defaults of an encodable value as a tree (to lay a file over).
    public static func tree(of value: some Encodable) -> Document {
        (try? DocumentEncoder().encode(value)) ?? [:]
    }

    /// Decodes `yaml` laid over `defaults`, with `environment` applied.
    public func decode<T: Decodable>(
        _ type: T.Type, yaml: String, defaults: Document, environment: [String: String], source: String
    ) throws(ConfigError) -> T {
        let parsed: Document
        do { parsed = try YAMLParser.parse(yaml) } catch {
            throw ConfigError(key: source, problem: "not valid YAML: \(error)")
        }
        let given: [String: Document]
        switch parsed {
        case .null: given = [:]
        case .map(let entries): given = entries
        default: throw ConfigError(key: source, problem: "must be a mapping of keys to values")
        }
        let knownKeys = Self.settings(of: T.self, defaults: defaults)
        if rejectsUnknownKeys, let unknown = Self.unknownKey(in: given, under: [], knownKeys: knownKeys) {
            throw ConfigError(key: unknown, problem: "is not a setting (a typo?); see the sample configuration")
        }
        var root = defaults.merged(with: .map(given))
        try applyEnvironment(&root, environment: environment, knownKeys: knownKeys)
        return try Self.decode(type, from: root, source: source)
    }

    /// Decodes a tree into `T` (its snake_case keys matched to camelCase properties, unless `snakeCaseKeys` is
    /// false and `T` names its keys itself); a failure names its key.
    public static func decode<T: Decodable>(
        _ type: T.Type, from root: Document, source: String, snakeCaseKeys: Bool = true
    ) throws(ConfigError) -> T {
        let decoder = DocumentDecoder(snakeCaseKeys: snakeCaseKeys)
        do { return try decoder.decode(T.self, from: root) } catch let DecodingError.keyNotFound(key, context) {
            throw ConfigError(key: Self.path(context.codingPath + [key]), problem: "is required")
        } catch let DecodingError.typeMismatch(type, context) {
            throw ConfigError(key: Self.path(context.codingPath), problem: "must be \(Self.describe(type))")
        } catch let DecodingError.valueNotFound(type, context) {
            throw ConfigError(key: Self.path(context.codingPath), problem: "must be \(Self.describe(type)), not null")
        } catch let DecodingError.dataCorrupted(context) {
            throw ConfigError(key: Self.path(context.codingPath), problem: context.debugDescription)
        } catch {
            throw ConfigError(key: source, problem: "\(error)")
        }
    }

    func applyEnvironment(_ root: inout Document, environment: [String: String], knownKeys: [[String]])
        throws(ConfigError)
    {
        for (name, value) in environment.sorted(by: { $0.key < $1.key }) where name.hasPrefix(environmentPrefix) {
            let flat = name.dropFirst(environmentPrefix.count).lowercased()
            guard let keyPath = knownKeys.first(where: { $0.joined(separator: "_") == flat }) else {
                throw ConfigError(key: name, problem: "names no configuration key")
            }
            // A value is read as YAML (`8`, `true`, `[a, b]`); text that is not valid YAML stays text.
            root.set(keyPath, to: (try? YAMLParser.parse(value)) ?? .string(value))
        }
    }

    /// `rounds.duration_s`, `task.data.channels[1]`. Built by hand: the agent links no string-processing
    /// library (`replacing` would bring `_StringProcessing` and its regex parser, ~1 MB, into every process).
    static func path(_ codingPath: [any CodingKey]) -> String {
        var path = ""
        for key in codingPath {
            if let index = key.intValue {
                path += "[\(index)]"
            } else {
                path += (path.isEmpty ? "" : ".") + snakeCase(key.stringValue)
            }
        }
        return path
    }

    static func snakeCase(_ key: String) -> String {
        var result = ""
        for c in key {
            if c.isUppercase { result += "_" + c.lowercased() } else { result.append(c) }
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
