/// Decodes `Decodable` values from a ``Document`` (no Foundation): what `JSONDecoder` did for control messages and
/// configuration, with the same errors (`DecodingError` with the coding path) and, with `snakeCaseKeys`, the same
/// key conversion as its `.convertFromSnakeCase`.
public struct DocumentDecoder: Sendable {
    /// Document keys are snake_case, properties camelCase.
    public var snakeCaseKeys: Bool

    /// Creates a decoder.
    public init(snakeCaseKeys: Bool = true) {
        self.snakeCaseKeys = snakeCaseKeys
    }

    /// Decodes `type` from `document`.
    public func decode<T: Decodable>(_ type: T.Type, from document: Document) throws -> T {
        try TreeDecoder(document, path: [], snakeCaseKeys: snakeCaseKeys).decode(T.self)
    }
}

/// A key for positions in lists and for free-form mappings.
struct IndexKey: CodingKey {
    var stringValue: String
    var intValue: Int?
    init(stringValue: String) { self.stringValue = stringValue }
    init(intValue: Int) {
        stringValue = String(intValue)
        self.intValue = intValue
    }
}

struct TreeDecoder: Decoder, SingleValueDecodingContainer {
    let value: Document
    let codingPath: [any CodingKey]
    let snakeCaseKeys: Bool
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    init(_ value: Document, path: [any CodingKey], snakeCaseKeys: Bool) {
        self.value = value
        codingPath = path
        self.snakeCaseKeys = snakeCaseKeys
    }

    func mismatch(_ type: Any.Type, _ what: String) -> DecodingError {
        if case .null = value {
            return .valueNotFound(type, .init(codingPath: codingPath, debugDescription: "expected \(what), found null"))
        }
        return .typeMismatch(type, .init(codingPath: codingPath, debugDescription: "expected \(what)"))
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        guard case .map(let entries) = value else { throw mismatch([String: Any].self, "a mapping") }
        return KeyedDecodingContainer(Keyed<Key>(entries: entries, decoder: self))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        guard case .list(let items) = value else { throw mismatch([Any].self, "a list") }
        return Unkeyed(items: items, decoder: self)
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer { self }

    func child(_ value: Document, _ key: any CodingKey) -> TreeDecoder {
        TreeDecoder(value, path: codingPath + [key], snakeCaseKeys: snakeCaseKeys)
    }

    // MARK: Single values

    func decodeNil() -> Bool {
        if case .null = value { true } else { false }
    }

    func decode<T: Decodable>(_ type: T.Type) throws -> T {
        if let primitive = try primitive(type) { return primitive }
        if let dictionary = type as? any StringKeyedDecodable.Type,
            let entries = try dictionary.decodeEntries(self) as? T
        {
            return entries
        }
        return try T(from: self)
    }

    /// Bool, String, the integers and the floating-point types; nil for any other type.
    func primitive<T>(_ type: T.Type) throws -> T? {
        switch type {
        case is Bool.Type:
            guard case .bool(let flag) = value else { throw mismatch(type, "true or false") }
            return flag as? T
        case is String.Type:
            guard case .string(let text) = value else { throw mismatch(type, "a string") }
            return text as? T
        case is Double.Type: return try number() as? T
        case is Float.Type: return Float(try number()) as? T
        case is Int.Type: return try integer(Int.self) as? T
        case is Int64.Type: return try integer(Int64.self) as? T
        case is Int32.Type: return try integer(Int32.self) as? T
        case is Int16.Type: return try integer(Int16.self) as? T
        case is Int8.Type: return try integer(Int8.self) as? T
        case is UInt.Type: return try integer(UInt.self) as? T
        case is UInt64.Type: return try integer(UInt64.self) as? T
        case is UInt32.Type: return try integer(UInt32.self) as? T
        case is UInt16.Type: return try integer(UInt16.self) as? T
        case is UInt8.Type: return try integer(UInt8.self) as? T
        default: return nil
        }
    }

    func number() throws -> Double {
        switch value {
        case .int(let n): return Double(n)
        case .double(let d): return d
        default: throw mismatch(Double.self, "a number")
        }
    }

    func integer<I: FixedWidthInteger>(_ type: I.Type) throws -> I {
        switch value {
        case .int(let n):
            if let exact = I(exactly: n) { return exact }
        case .double(let d):
            if let exact = I(exactly: d) { return exact }
        default: break
        }
        if case .int = value {
            throw DecodingError.dataCorrupted(
                .init(codingPath: codingPath, debugDescription: "\(value.json) does not fit \(I.self)"))
        }
        throw mismatch(type, "a whole number")
    }
}

extension TreeDecoder {
    struct Keyed<Key: CodingKey>: KeyedDecodingContainerProtocol {
        /// The document's entries, under their own (snake_case) names.
        let entries: [String: Document]
        let decoder: TreeDecoder
        var codingPath: [any CodingKey] { decoder.codingPath }
        var allKeys: [Key] {
            entries.keys.map { decoder.snakeCaseKeys ? KeyCase.camel($0) : $0 }.sorted().compactMap {
                Key(stringValue: $0)
            }
        }

        /// The value for a property: under its snake_case name, or else under a name that converts to it (so
        /// `myURL` finds `my_url` as well as what `convertFromSnakeCase` would have matched).
        func item(_ key: Key) -> Document? {
            guard decoder.snakeCaseKeys else { return entries[key.stringValue] }
            if let found = entries[KeyCase.snake(key.stringValue)] { return found }
            return entries.first { KeyCase.camel($0.key) == key.stringValue }?.value
        }

        func contains(_ key: Key) -> Bool { item(key) != nil }

        func child(_ key: Key) throws -> TreeDecoder {
            guard let item = item(key) else {
                throw DecodingError.keyNotFound(
                    key, .init(codingPath: codingPath, debugDescription: "no value for \(key.stringValue)"))
            }
            return decoder.child(item, key)
        }

        func decodeNil(forKey key: Key) throws -> Bool { try child(key).decodeNil() }
        func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T { try child(key).decode(type) }
        func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws
            -> KeyedDecodingContainer<NestedKey>
        { try child(key).container(keyedBy: type) }
        func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
            try child(key).unkeyedContainer()
        }
        func superDecoder() throws -> any Decoder { decoder }
        func superDecoder(forKey key: Key) throws -> any Decoder { try child(key) }
    }

    struct Unkeyed: UnkeyedDecodingContainer {
        let items: [Document]
        let decoder: TreeDecoder
        var currentIndex = 0
        var codingPath: [any CodingKey] { decoder.codingPath }
        var count: Int? { items.count }
        var isAtEnd: Bool { currentIndex >= items.count }

        mutating func next() throws -> TreeDecoder {
            guard !isAtEnd else {
                throw DecodingError.valueNotFound(
                    Any.self,
                    .init(
                        codingPath: codingPath + [IndexKey(intValue: currentIndex)],
                        debugDescription: "the list has only \(items.count) items"))
            }
            defer { currentIndex += 1 }
            return decoder.child(items[currentIndex], IndexKey(intValue: currentIndex))
        }

        mutating func decodeNil() throws -> Bool {
            guard !isAtEnd, case .null = items[currentIndex] else { return false }
            currentIndex += 1
            return true
        }
        mutating func decode<T: Decodable>(_ type: T.Type) throws -> T { try next().decode(type) }
        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws
            -> KeyedDecodingContainer<NestedKey>
        { try next().container(keyedBy: type) }
        mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer {
            try next().unkeyedContainer()
        }
        mutating func superDecoder() throws -> any Decoder { try next() }
    }
}
