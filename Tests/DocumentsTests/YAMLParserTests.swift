import Documents
import Testing

@Suite struct YAMLParserTests {
    @Test("block and flow YAML become the values a reader expects, with YAML 1.2 core types")
    func types() throws {
        let text = """
            # a comment
            broker: {host: 127.0.0.1, port: 1883}
            name: "quoted: 1"
            single: '007'
            plain: 007
            hex: 0x1F
            octal: 0o17
            negative: -12
            ratio: 0.25
            exponent: 1e-3
            flags: [true, False, ~, null, ""]
            infinite: -.inf
            text: 1.2.3
            list:
              - a
              - b: 2
            literal: |
              line one
              line two
            tagged: !!str 12
            """
        let document = try YAMLParser.parse(text)
        #expect(document["broker"] == ["host": "127.0.0.1", "port": 1883])
        #expect(document["name"] == "quoted: 1")
        #expect(document["single"] == "007")
        #expect(document["plain"] == 7)
        #expect(document["hex"] == 31)
        #expect(document["octal"] == 15)
        #expect(document["negative"] == -12)
        #expect(document["ratio"] == 0.25)
        #expect(document["exponent"] == .double(0.001))
        #expect(document["flags"] == [true, false, nil, nil, ""])
        #expect(document["infinite"] == .double(-.infinity))
        #expect(document["text"] == "1.2.3")
        #expect(document["list"] == ["a", ["b": 2]])
        #expect(document["literal"] == "line one\nline two\n")
        #expect(document["tagged"] == "12")
        #expect(try YAMLParser.parse("") == .null)
        #expect(try YAMLParser.parse("# only a comment\n") == .null)
    }

    @Test("JSON is read as YAML: escapes, nesting, numbers")
    func json() throws {
        let text = #"{"a":[1,2.5,-3e2],"b":{"c":null,"d":"x\"y\\z\/\u00e9\n"},"e":true}"#
        let document = try YAMLParser.parse(text)
        #expect(document == ["a": [1, 2.5, -300.0], "b": ["c": nil, "d": "x\"y\\z/é\n"], "e": true])
    }

    @Test("anchors and aliases expand; an alias bomb is refused, not expanded")
    func aliases() throws {
        let document = try YAMLParser.parse("base: &b {x: 1, y: [2, 3]}\ncopy: *b\n")
        #expect(document["copy"] == document["base"])
        var bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
        for (i, name) in ["b", "c", "d", "e", "f", "g"].enumerated() {
            let previous = i == 0 ? "a" : ["b", "c", "d", "e", "f"][i - 1]
            bomb += "\(name): &\(name) [" + Array(repeating: "*\(previous)", count: 10).joined(separator: ", ") + "]\n"
        }
        #expect(throws: YAMLError.self) { try YAMLParser.parse(bomb) }
        #expect(throws: YAMLError.self) { try YAMLParser.parse("a: *missing\n") }
    }

    @Test("bad YAML is a typed error with its line and column")
    func errors() throws {
        let cases: [(String, Int, String)] = [
            ("a: 1\nb: [1, 2\n", 3, "flow sequence"),
            ("a: 1\na: 2\n", 2, "duplicate key a"),
            ("? [1, 2]\n: x\n", 1, "a key must be a plain value"),
            ("a:\n  - 1\n - 2\n", 3, ""),
        ]
        for (text, line, words) in cases {
            do {
                _ = try YAMLParser.parse(text)
                Issue.record("accepted \(text.debugDescription)")
            } catch {
                #expect(error.line == line, "\(text.debugDescription): \(error)")
                #expect(error.column >= 1)
                #expect(words.isEmpty || error.description.contains(words), "\(error)")
            }
        }
        #expect(throws: YAMLError.self) { try YAMLParser.parse(utf8: [0x61, 0x3A, 0x20, 0xFF, 0xFE], maxBytes: 100) }
        #expect(throws: YAMLError.self) { try YAMLParser.parse(utf8: Array("a: 1234".utf8), maxBytes: 4) }
        let deep = String(repeating: "[", count: 100) + String(repeating: "]", count: 100)
        #expect(throws: YAMLError.self) { try YAMLParser.parse(deep) }
    }

    @Test("a document written as JSON reads back as itself")
    func roundTrip() throws {
        let document: Document = [
            "text": "tab\there \"quoted\" \u{1} é", "n": -4, "x": 0.1, "big": 1e300, "list": [nil, true, [:], []],
            "nested": ["k": ["deeper": "v"]],
        ]
        #expect(try YAMLParser.parse(document.json) == document)
        #expect(Document.map(["b": 1, "a": 2]).json == #"{"a":2,"b":1}"#)
    }
}
