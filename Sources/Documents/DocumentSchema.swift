/// The settings a `Decodable` configuration type has, found by decoding it once with a probe: every key its
/// `init(from:)` asks for, required or optional, set by default or not — so the lists of known keys (for
/// refusing typos, for environment overrides) come from the type itself and are never kept by hand.
///
/// A mapping of free-form keys (`[String: V]`) and a list are leaves: what is under them is data. The probe
/// answers each request with the default's value where `defaults` has one, else with an empty one ("", 0, false,
/// an empty list, an enum's first case if it is `CaseIterable`); a nested type that cannot be built from empty
/// values (an enum without a default that is not `CaseIterable`) ends the probe of its own siblings, so give such
/// fields a default or make the enum `CaseIterable`.
public enum DocumentSchema {
    /// Every key path (snake_case) `T` reads, in sorted order.
    public static func keyPaths<T: Decodable>(of type: T.Type, defaults: Document = .null) -> [[String]] {
        let recorder = Recorder()
        _ = try? Probe(defaults, path: [], recorder: recorder).decode(T.self)
        return recorder.paths.sorted { $0.lexicographicallyPrecedes($1) }
    }

    final class Recorder {
        var paths: Set<[String]> = []
    }

    struct Probe: Decoder, SingleValueDecodingContainer {
        let defaults: Document?
        let path: [String]
        let recorder: Recorder
        var codingPath: [any CodingKey] { path.map { IndexKey(stringValue: $0) } }
        var userInfo: [CodingUserInfoKey: Any] { [:] }

        init(_ defaults: Document?, path: [String], recorder: Recorder) {
            self.defaults = defaults
            self.path = path
            self.recorder = recorder
        }

        func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
            KeyedDecodingContainer(Keyed<Key>(probe: self))
        }

        func unkeyedContainer() throws -> any UnkeyedDecodingContainer { Empty(codingPath: codingPath) }

        func singleValueContainer() throws -> any SingleValueDecodingContainer { self }

        func decodeNil() -> Bool { defaults == nil || defaults == .null }

        func decode<T: Decodable>(_ type: T.Type) throws -> T {
            let freeForm = T.self is any StringKeyedDecodable.Type
            var given: Document?
            if let value = defaults, value != .null { given = value }
            // A leaf or a free-form mapping with a default: its real value. A section is probed key by key.
            if let given, given.mapping == nil || freeForm {
                return try TreeDecoder(given, path: codingPath, snakeCaseKeys: true).decode(type)
            }
            if let empty = Self.empty(type) { return empty }
            if let cases = T.self as? any CaseIterable.Type, let first = Self.firstCase(of: cases) as? T {
                return first
            }
            if freeForm { return try TreeDecoder(.map([:]), path: codingPath, snakeCaseKeys: true).decode(type) }
            do { return try T(from: self) } catch {
                // A type the probe cannot build (an enum with associated values): its default, if there is one.
                guard let given else { throw error }
                return try TreeDecoder(given, path: codingPath, snakeCaseKeys: true).decode(type)
            }
        }

        static func firstCase<C: CaseIterable>(of type: C.Type) -> Any? { C.allCases.first }

        /// The empty value of a primitive type; nil for any other.
        static func empty<T>(_ type: T.Type) -> T? {
            switch type {
            case is Bool.Type: false as? T
            case is String.Type: "" as? T
            case is Double.Type: 0.0 as? T
            case is Float.Type: Float(0) as? T
            case is Int.Type: 0 as? T
            case is Int64.Type: Int64(0) as? T
            case is Int32.Type: Int32(0) as? T
            case is UInt64.Type: UInt64(0) as? T
            case is UInt32.Type: UInt32(0) as? T
            case is UInt16.Type: UInt16(0) as? T
            case is UInt8.Type: UInt8(0) as? T
            default: nil
            }
        }
    }

    struct Keyed<Key: CodingKey>: KeyedDecodingContainerProtocol {
        let probe: Probe
        var codingPath: [any CodingKey] { probe.codingPath }
        var allKeys: [Key] { [] }

        func child(_ key: Key) -> Probe {
            let name = KeyCase.snake(key.stringValue)
            probe.recorder.paths.insert(probe.path + [name])
            return Probe(probe.defaults?[name], path: probe.path + [name], recorder: probe.recorder)
        }

        func contains(_ key: Key) -> Bool { true }
        func decodeNil(forKey key: Key) throws -> Bool { child(key).decodeNil() }
        func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T { try child(key).decode(type) }
        func decodeIfPresent<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T? {
            let child = child(key)
            // Probed even when absent, so that the keys of an optional section are known too.
            let value = try? child.decode(type)
            return child.decodeNil() ? nil : value
        }
        func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws
            -> KeyedDecodingContainer<NestedKey>
        { try child(key).container(keyedBy: type) }
        func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
            try child(key).unkeyedContainer()
        }
        func superDecoder() throws -> any Decoder { probe }
        func superDecoder(forKey key: Key) throws -> any Decoder { child(key) }
    }

    struct Empty: UnkeyedDecodingContainer {
        let codingPath: [any CodingKey]
        var count: Int? { 0 }
        var isAtEnd: Bool { true }
        var currentIndex: Int { 0 }
        mutating func decodeNil() throws -> Bool { false }
        mutating func decode<T: Decodable>(_ type: T.Type) throws -> T {
            throw DecodingError.valueNotFound(type, .init(codingPath: codingPath, debugDescription: "probe"))
        }
        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws
            -> KeyedDecodingContainer<NestedKey>
        { throw DecodingError.valueNotFound(Any.self, .init(codingPath: codingPath, debugDescription: "probe")) }
        mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer { self }
        mutating func superDecoder() throws -> any Decoder {
            throw DecodingError.valueNotFound(Any.self, .init(codingPath: codingPath, debugDescription: "probe"))
        }
    }
}
