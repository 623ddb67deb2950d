/// Encodes `Encodable` values into a ``Document`` (no Foundation); with `snakeCaseKeys`, keys are converted as
/// Foundation's `JSONEncoder` `.convertToSnakeCase` did. Absent optionals are left out, as there.
public struct DocumentEncoder: Sendable {
    /// Properties camelCase become keys snake_case.
    public var snakeCaseKeys: Bool

    /// Creates an encoder.
    public init(snakeCaseKeys: Bool = true) {
        self.snakeCaseKeys = snakeCaseKeys
    }

    /// The document for `value`.
    public func encode(_ value: some Encodable) throws -> Document {
        let root = TreeEncoder.Node()
        try TreeEncoder(node: root, path: [], snakeCaseKeys: snakeCaseKeys).encode(value)
        return root.document
    }
}

struct TreeEncoder: Encoder, SingleValueEncodingContainer {
    /// A value being built: containers are shared by reference while their children are encoded.
    final class Node {
        enum Content {
            case empty
            case value(Document)
            case map([String: Node])
            case list([Node])
        }
        var content = Content.empty

        var document: Document {
            switch content {
            case .empty: .map([:])
            case .value(let value): value
            case .map(let entries): .map(entries.mapValues(\.document))
            case .list(let items): .list(items.map(\.document))
            }
        }
    }

    let node: Node
    let codingPath: [any CodingKey]
    let snakeCaseKeys: Bool
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    init(node: Node, path: [any CodingKey], snakeCaseKeys: Bool) {
        self.node = node
        codingPath = path
        self.snakeCaseKeys = snakeCaseKeys
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        if case .map = node.content {} else { node.content = .map([:]) }
        return KeyedEncodingContainer(Keyed<Key>(encoder: self))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        if case .list = node.content {} else { node.content = .list([]) }
        return Unkeyed(encoder: self)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer { self }

    func child(_ key: any CodingKey) -> (Node, TreeEncoder) {
        let node = Node()
        return (node, TreeEncoder(node: node, path: codingPath + [key], snakeCaseKeys: snakeCaseKeys))
    }

    func encodeNil() { node.content = .value(.null) }

    func encode<T: Encodable>(_ value: T) throws {
        if let primitive = try Self.primitive(value, path: codingPath) {
            node.content = .value(primitive)
        } else if let dictionary = value as? any StringKeyedEncodable {
            try dictionary.encodeEntries(self)
        } else {
            try value.encode(to: self)
        }
    }

    /// Bool, String, the integers and the floating-point types as documents; nil for any other type.
    static func primitive<T>(_ value: T, path: [any CodingKey]) throws -> Document? {
        switch value {
        case let flag as Bool: return .bool(flag)
        case let text as String: return .string(text)
        case let number as Double: return try finite(number, path)
        // A Float as Foundation wrote it: its own shortest form (0.1, not 0.10000000149011612).
        case let number as Float: return try finite(Double("\(number)") ?? Double(number), path)
        case let number as Int: return .int(number)
        case let number as Int64: return .int(Int(number))
        case let number as Int32: return .int(Int(number))
        case let number as Int16: return .int(Int(number))
        case let number as Int8: return .int(Int(number))
        case let number as UInt8: return .int(Int(number))
        case let number as UInt16: return .int(Int(number))
        case let number as UInt32: return .int(Int(number))
        case let number as UInt: return Int(exactly: number).map(Document.int) ?? .double(Double(number))
        case let number as UInt64: return Int(exactly: number).map(Document.int) ?? .double(Double(number))
        default: return nil
        }
    }

    static func finite(_ number: Double, _ path: [any CodingKey]) throws -> Document {
        guard number.isFinite else {
            throw EncodingError.invalidValue(
                number, .init(codingPath: path, debugDescription: "\(number) has no JSON form"))
        }
        return .double(number)
    }
}

extension TreeEncoder {
    struct Keyed<Key: CodingKey>: KeyedEncodingContainerProtocol {
        let encoder: TreeEncoder
        var codingPath: [any CodingKey] { encoder.codingPath }

        func insert(_ key: Key) -> TreeEncoder {
            let (node, child) = encoder.child(key)
            if case .map(var entries) = encoder.node.content {
                encoder.node.content = .empty  // so `entries` is the only reference, changed in place
                entries[encoder.snakeCaseKeys ? KeyCase.snake(key.stringValue) : key.stringValue] = node
                encoder.node.content = .map(entries)
            }
            return child
        }

        mutating func encodeNil(forKey key: Key) { insert(key).encodeNil() }
        mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws { try insert(key).encode(value) }
        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key)
            -> KeyedEncodingContainer<NestedKey>
        { insert(key).container(keyedBy: keyType) }
        mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
            insert(key).unkeyedContainer()
        }
        mutating func superEncoder() -> any Encoder { encoder }
        mutating func superEncoder(forKey key: Key) -> any Encoder { insert(key) }
    }

    struct Unkeyed: UnkeyedEncodingContainer {
        let encoder: TreeEncoder
        var codingPath: [any CodingKey] { encoder.codingPath }
        var count: Int {
            if case .list(let items) = encoder.node.content { items.count } else { 0 }
        }

        func append() -> TreeEncoder {
            let (node, child) = encoder.child(IndexKey(intValue: count))
            if case .list(var items) = encoder.node.content {
                encoder.node.content = .empty  // so `items` is the only reference, appended in place
                items.append(node)
                encoder.node.content = .list(items)
            }
            return child
        }

        mutating func encodeNil() { append().encodeNil() }
        mutating func encode<T: Encodable>(_ value: T) throws { try append().encode(value) }
        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type)
            -> KeyedEncodingContainer<NestedKey>
        { append().container(keyedBy: keyType) }
        mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer { append().unkeyedContainer() }
        mutating func superEncoder() -> any Encoder { append() }
    }
}
