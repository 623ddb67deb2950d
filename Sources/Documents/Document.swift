import TributaryWire

/// A parsed document: what a YAML or JSON text holds (a configuration file, a control message), before it is
/// decoded into a typed value.
public enum Document: Sendable, Hashable {
    case null
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case list([Document])
    case map([String: Document])

    /// The mapping's entries, or nil for anything else.
    public var mapping: [String: Document]? {
        if case .map(let entries) = self { entries } else { nil }
    }

    /// The value under `key` of a mapping.
    public subscript(key: String) -> Document? {
        mapping?[key]
    }

    /// `overlay` on `self`: mappings merged key by key, anything else replaced.
    public func merged(with overlay: Document) -> Document {
        guard case .map(var result) = self, case .map(let top) = overlay else { return overlay }
        for (key, value) in top {
            result[key] = result[key].map { $0.merged(with: value) } ?? value
        }
        return .map(result)
    }

    /// Sets the value at a key path, creating mappings on the way (and replacing anything that is not one).
    public mutating func set(_ path: some Collection<String>, to value: Document) {
        guard let first = path.first else {
            self = value
            return
        }
        var entries = mapping ?? [:]
        var child = entries[first] ?? .null
        child.set(path.dropFirst(), to: value)
        entries[first] = child
        self = .map(entries)
    }
}

extension Document: ExpressibleByNilLiteral, ExpressibleByBooleanLiteral, ExpressibleByIntegerLiteral,
    ExpressibleByFloatLiteral, ExpressibleByStringLiteral, ExpressibleByArrayLiteral,
    ExpressibleByDictionaryLiteral
{
    /// `nil` is `.null`.
    public init(nilLiteral: ()) { self = .null }
    /// A boolean literal.
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    /// An integer literal.
    public init(integerLiteral value: Int) { self = .int(value) }
    /// A floating-point literal.
    public init(floatLiteral value: Double) { self = .double(value) }
    /// A string literal.
    public init(stringLiteral value: String) { self = .string(value) }
    /// A list literal.
    public init(arrayLiteral elements: Document...) { self = .list(elements) }
    /// A mapping literal (a key given twice keeps its last value).
    public init(dictionaryLiteral elements: (String, Document)...) {
        self = .map(Dictionary(elements, uniquingKeysWith: { _, last in last }))
    }
}

extension Document {
    /// JSON text (keys sorted). Non-finite numbers have no JSON form and become `null`.
    public var json: String {
        var out = ""
        write(to: &out)
        return out
    }

    func write(to out: inout String) {
        switch self {
        case .null: out += "null"
        case .bool(let value): out += value ? "true" : "false"
        case .int(let value): out += String(value)
        case .double(let value): out += Self.number(value)
        case .string(let value): JSONString.append(value, to: &out)
        case .list(let items):
            out += "["
            for (i, item) in items.enumerated() {
                if i > 0 { out += "," }
                item.write(to: &out)
            }
            out += "]"
        case .map(let entries):
            out += "{"
            for (i, key) in entries.keys.sorted().enumerated() {
                if i > 0 { out += "," }
                JSONString.append(key, to: &out)
                out += ":"
                entries[key]!.write(to: &out)
            }
            out += "}"
        }
    }

    /// A real number as Foundation's JSONEncoder wrote it, so canonical JSON (and the hashes over it) did not
    /// change when the coders did: the shortest round-trip form, without a `.0` on whole numbers (`1`, `0.01`,
    /// `1e-05`, `1e+16`). Non-finite numbers have no JSON form: `null`.
    static func number(_ value: Double) -> String {
        guard value.isFinite else { return "null" }
        let text = "\(value)"
        return text.hasSuffix(".0") ? String(text.dropLast(2)) : text
    }
}
