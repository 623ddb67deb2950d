import Documents
import Foundation
import Testing
import TributaryWire

struct Sample: Codable, Equatable {
    enum Mode: String, Codable { case fast, slowOne }
    struct Inner: Codable, Equatable {
        var kFraction: Double
        var myUrlValue: String
        var initSeed: UInt64
    }
    var stateDir: String
    var mode: Mode
    var count: Int8
    var ratio: Float
    var optional: Int?
    var absent: String?
    var inner: Inner
    var list: [Inner]
    var counts: [String: Int]
    var nested: [[Int]]
}

@Suite struct DocumentCodingTests {
    static let sample = Sample(
        stateDir: "/var/lib/x \"q\" \\ \u{8}\u{C}\n\t\u{1} é", mode: .slowOne, count: -3, ratio: 0.1, optional: 4,
        absent: nil,
        inner: .init(kFraction: 0.01, myUrlValue: "u", initSeed: 1 << 40),
        list: [.init(kFraction: 1, myUrlValue: "", initSeed: 0)],
        counts: ["late_round": 2, "tooBig": 1], nested: [[1], [], [2, 3]])

    @Test("values encode to what Foundation's JSONEncoder (snake_case keys) writes, and decode back")
    func matchesFoundation() throws {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        let reference = try YAMLParser.parse(String(decoding: try encoder.encode(Self.sample), as: UTF8.self))
        let ours = try DocumentEncoder().encode(Self.sample)
        #expect(ours == reference.normalizingNumbers(like: ours))
        // The canonical JSON (hashes are computed over it) is byte for byte what Foundation wrote.
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        #expect(ours.json == String(decoding: try encoder.encode(Self.sample), as: UTF8.self))
        let numbers: [String: Double] = ["a": 1, "b": 0.01, "c": 1e-5, "d": 1e16, "e": -2.5, "f": 1e15, "g": 0]
        #expect(
            try DocumentEncoder().encode(numbers).json == String(decoding: try encoder.encode(numbers), as: UTF8.self))
        #expect(try DocumentDecoder().decode(Sample.self, from: ours) == Self.sample)
        // What Foundation's decoder reads from our JSON is the same value.
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        #expect(try decoder.decode(Sample.self, from: Data(ours.json.utf8)) == Self.sample)
        #expect(ours["counts"] == ["late_round": 2, "tooBig": 1], "dictionary keys are data: never converted")
        #expect(ours["absent"] == nil && ours["state_dir"] == .string(Self.sample.stateDir))
    }

    @Test("key case conversion agrees with Foundation's on awkward names")
    func keyCase() throws {
        let names = [
            "a", "kFraction", "myURLValue", "URL", "iOSVersion", "ABTest", "beta1", "value2Go", "already_snake",
            "_private", "x_",
        ]
        for name in names {
            struct One: Encodable {
                let name: String
                func encode(to encoder: any Encoder) throws {
                    var container = encoder.container(keyedBy: IndexKeyForTest.self)
                    try container.encode(1, forKey: IndexKeyForTest(stringValue: name))
                }
            }
            let encoder = JSONEncoder()
            encoder.keyEncodingStrategy = .convertToSnakeCase
            let reference = try #require(
                try JSONSerialization.jsonObject(with: encoder.encode(One(name: name))) as? [String: Int])
            #expect(KeyCase.snake(name) == reference.keys.first, "\(name)")
        }
        #expect(KeyCase.camel("k_fraction") == "kFraction")
        #expect(KeyCase.camel("_leading_under") == "_leadingUnder")
        #expect(KeyCase.camel("plain") == "plain")
        #expect(KeyCase.camel("trailing_") == "trailing_")
        struct Acronym: Codable, Equatable { var myURLValue: Int }
        let document = try DocumentEncoder().encode(Acronym(myURLValue: 3))
        #expect(document == ["my_url_value": 3])
        #expect(try DocumentDecoder().decode(Acronym.self, from: document) == Acronym(myURLValue: 3), "round trips")
    }

    @Test("wrong documents give DecodingErrors that name the path")
    func errors() throws {
        var document = try DocumentEncoder().encode(Self.sample)
        document.set(["inner", "init_seed"], to: -1)
        expectPath(document, "inner.initSeed")
        document = try DocumentEncoder().encode(Self.sample)
        document.set(["list"], to: [["k_fraction": "x", "my_url_value": "", "init_seed": 0]])
        expectPath(document, "list.Index 0.kFraction")
        document = try DocumentEncoder().encode(Self.sample)
        document.set(["count"], to: 300)
        expectPath(document, "count")
        document = try DocumentEncoder().encode(Self.sample)
        document.set(["mode"], to: nil)
        #expect(throws: DecodingError.self) { try DocumentDecoder().decode(Sample.self, from: document) }
        guard case .map(var entries) = try DocumentEncoder().encode(Self.sample) else { return }
        entries["state_dir"] = nil
        do {
            _ = try DocumentDecoder().decode(Sample.self, from: .map(entries))
            Issue.record("decoded without state_dir")
        } catch DecodingError.keyNotFound(let key, _) {
            #expect(key.stringValue == "stateDir")
        }
        #expect(throws: EncodingError.self) { try DocumentEncoder().encode(["x": Double.nan]) }
    }

    func expectPath(_ document: Document, _ path: String) {
        do {
            _ = try DocumentDecoder().decode(Sample.self, from: document)
            Issue.record("decoded \(document.json)")
        } catch let error as DecodingError {
            let context: DecodingError.Context? =
                switch error {
                case .typeMismatch(_, let c), .valueNotFound(_, let c), .dataCorrupted(let c): c
                default: nil
                }
            let rendered = context?.codingPath.map { $0.intValue.map { "Index \($0)" } ?? $0.stringValue }
            #expect(rendered?.joined(separator: ".") == path, "\(error)")
        } catch {
            Issue.record("\(error)")
        }
    }

    @Test("base64 matches RFC 4648's vectors and Foundation's, and refuses what is not base64")
    func base64() throws {
        let vectors = [
            "": "", "f": "Zg==", "fo": "Zm8=", "foo": "Zm9v", "foob": "Zm9vYg==", "fooba": "Zm9vYmE=",
            "foobar": "Zm9vYmFy",
        ]
        for (plain, encoded) in vectors {
            #expect(Base64.encode(Array(plain.utf8)) == encoded)
            #expect(Base64.decode(encoded) == Array(plain.utf8))
        }
        var random = SystemRandomNumberGenerator()
        for length in 0..<70 {
            let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &random) }
            #expect(Base64.encode(bytes) == Data(bytes).base64EncodedString())
            #expect(Base64.decode(Data(bytes).base64EncodedString()) == bytes)
        }
        for bad in ["Zg=", "Z===", "Zm9v!A==", "Zm 9v", "=Zg="] { #expect(Base64.decode(bad) == nil, "\(bad)") }
    }
}

struct IndexKeyForTest: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}

extension Document {
    /// Foundation writes 1.0 as 1: read such integers as the doubles `model` holds at the same place.
    func normalizingNumbers(like model: Document) -> Document {
        switch (self, model) {
        case (.int(let n), .double): .double(Double(n))
        case (.map(let entries), .map(let modelEntries)):
            .map(
                entries.reduce(into: [:]) {
                    $0[$1.key] = modelEntries[$1.key].map($1.value.normalizingNumbers) ?? $1.value
                })
        case (.list(let items), .list(let modelItems)) where items.count == modelItems.count:
            .list(zip(items, modelItems).map { $0.normalizingNumbers(like: $1) })
        default: self
        }
    }
}
