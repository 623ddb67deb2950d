internal import CYAML

/// Why a YAML document could not be read, with its 1-based position when libyaml gives one.
public struct YAMLError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Line (1-based), or 0 when unknown.
    public var line: Int
    /// Column (1-based), or 0 when unknown.
    public var column: Int
    /// What is wrong.
    public var problem: String

    /// `line L, column C: problem`.
    public var description: String {
        line > 0 ? "line \(line), column \(column): \(problem)" : problem
    }
}

/// YAML (and therefore JSON) text → `Document`, parsed by libyaml (the first document of the stream).
///
/// Plain scalars resolve as the YAML 1.2 core schema does (`null`/`~`/empty, `true`/`false`, decimal, `0x` and `0o`
/// integers, floats with `.inf`/`.nan`); quoted scalars and `!!str` are strings. Anchors and aliases are supported;
/// duplicate keys and non-scalar keys are refused. Documents over `maxBytes` and alias expansions over `maxNodes`
/// values are refused, so no input can make the reader use unbounded memory.
public enum YAMLParser {
    /// Largest document read.
    public static let maxBytes = 4 << 20
    /// Most values in the result, counting each alias's expansion.
    public static let maxNodes = 1 << 20

    private enum Frame {
        case list([Document], anchor: String?, start: Int)
        case map([String: Document], key: String?, anchor: String?, start: Int)
    }

    /// Parses `text`; an empty document is `.null`.
    public static func parse(_ text: String) throws(YAMLError) -> Document {
        try parse(utf8: text.utf8, maxBytes: maxBytes)
    }

    /// Parses UTF-8 bytes (libyaml refuses invalid UTF-8) up to `maxBytes` long.
    public static func parse(utf8 input: some Collection<UInt8>, maxBytes: Int) throws(YAMLError) -> Document {
        guard input.count <= maxBytes else {
            throw YAMLError(line: 0, column: 0, problem: "document of \(input.count) bytes (limit \(maxBytes))")
        }
        let bytes = Array(input)
        let parser = UnsafeMutablePointer<yaml_parser_t>.allocate(capacity: 1)
        defer { parser.deallocate() }
        guard yaml_parser_initialize(parser) == 1 else {
            throw YAMLError(line: 0, column: 0, problem: "libyaml could not start a parser")
        }
        defer { yaml_parser_delete(parser) }
        return try bytes.withUnsafeBufferPointer { (buffer) throws(YAMLError) -> Document in
            yaml_parser_set_input_string(parser, buffer.baseAddress, buffer.count)
            var builder = Builder()
            var event = yaml_event_t()
            while true {
                guard yaml_parser_parse(parser, &event) == 1 else { throw error(of: parser) }
                defer { yaml_event_delete(&event) }
                let mark = event.start_mark
                do throws(Problem) {
                    if try builder.take(event) { break }
                } catch {
                    throw YAMLError(line: mark.line + 1, column: mark.column + 1, problem: error.problem)
                }
            }
            return builder.result ?? .null
        }
    }

    private static func error(of parser: UnsafeMutablePointer<yaml_parser_t>) -> YAMLError {
        let problem = parser.pointee.problem.map { String(cString: $0) } ?? "not valid YAML"
        let context = parser.pointee.context.map { String(cString: $0) + ": " } ?? ""
        let mark = parser.pointee.problem_mark
        return YAMLError(line: mark.line + 1, column: mark.column + 1, problem: context + problem)
    }

    struct Problem: Error {
        var problem: String
    }

    /// Builds the tree from libyaml's events.
    private struct Builder {
        var stack: [Frame] = []
        var anchors: [String: (value: Document, nodes: Int)] = [:]
        var nodes = 0
        var result: Document?

        /// Takes one event; true once the first document has ended.
        mutating func take(_ event: yaml_event_t) throws(Problem) -> Bool {
            switch event.type {
            case YAML_DOCUMENT_END_EVENT, YAML_STREAM_END_EVENT:
                return true
            case YAML_SCALAR_EVENT:
                let scalar = event.data.scalar
                let text = String(
                    decoding: UnsafeBufferPointer(start: scalar.value, count: scalar.length), as: UTF8.self)
                let tag = scalar.tag.map { String(cString: $0) }
                let value =
                    scalar.style == YAML_PLAIN_SCALAR_STYLE && tag == nil
                    ? YAMLParser.resolve(text) : YAMLParser.tagged(text, tag: tag)
                try add(value, anchor: string(scalar.anchor), nodes: 1)
            case YAML_ALIAS_EVENT:
                let name = string(event.data.alias.anchor) ?? ""
                guard let anchored = anchors[name] else { throw Problem(problem: "unknown alias *\(name)") }
                try add(anchored.value, anchor: nil, nodes: anchored.nodes)
            case YAML_SEQUENCE_START_EVENT:
                try push(.list([], anchor: string(event.data.sequence_start.anchor), start: nodes))
            case YAML_MAPPING_START_EVENT:
                try push(.map([:], key: nil, anchor: string(event.data.mapping_start.anchor), start: nodes))
            case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
                switch stack.removeLast() {
                case .list(let items, let anchor, let start):
                    try add(.list(items), anchor: anchor, nodes: 0, size: nodes - start)
                case .map(let entries, _, let anchor, let start):
                    try add(.map(entries), anchor: anchor, nodes: 0, size: nodes - start)
                }
            default:
                break
            }
            return false
        }

        private func string(_ pointer: UnsafeMutablePointer<yaml_char_t>?) -> String? {
            pointer.map { String(cString: $0) }
        }

        private mutating func push(_ frame: Frame) throws(Problem) {
            guard stack.count < 64 else { throw Problem(problem: "nested deeper than 64 levels") }
            stack.append(frame)
            nodes += 1
        }

        /// Adds a finished value to its parent; `added` values are counted now (a collection's were counted as
        /// they came), `size` is how many it holds (for an alias of it).
        private mutating func add(_ value: Document, anchor: String?, nodes added: Int, size: Int? = nil)
            throws(Problem)
        {
            nodes += added
            guard nodes <= YAMLParser.maxNodes else {
                throw Problem(problem: "more than \(YAMLParser.maxNodes) values (aliases expanded)")
            }
            if let anchor { anchors[anchor] = (value, size ?? added) }
            guard let top = stack.popLast() else {
                result = value
                return
            }
            switch top {
            case .list(var items, let listAnchor, let start):
                items.append(value)
                stack.append(.list(items, anchor: listAnchor, start: start))
            case .map(var entries, let key?, let mapAnchor, let start):
                guard entries.updateValue(value, forKey: key) == nil else {
                    throw Problem(problem: "duplicate key \(key)")
                }
                stack.append(.map(entries, key: nil, anchor: mapAnchor, start: start))
            case .map(let entries, nil, let mapAnchor, let start):
                let key: String
                switch value {
                case .string(let text): key = text
                case .int(let number): key = String(number)
                case .bool(let flag): key = String(flag)
                case .double(let number): key = "\(number)"
                case .null, .list, .map: throw Problem(problem: "a key must be a plain value, not \(value.json)")
                }
                stack.append(.map(entries, key: key, anchor: mapAnchor, start: start))
            }
        }
    }
}
