import Documents
import Testing

@Suite struct DocumentSchemaTests {
    enum Mode: String, Codable { case fast, slow }

    struct Inner: Codable {
        var caFile: String
        var verify = true
    }

    struct Settings: Codable {
        var host = "127.0.0.1"
        var port = 1883
        var username: String?
        var tls: Inner?
        var mode = Mode.fast
        var labels: [String: Int] = [:]
        var channels: [Int] = [0, 1]
        var nested = Nested()
    }

    struct Nested: Codable {
        var durationS = 30.0
        var maxRounds: Int?
    }

    @Test("every key a type reads is found: optional ones without a default, nested sections, free-form leaves")
    func keys() throws {
        let defaults = try DocumentEncoder().encode(Settings())
        let paths = DocumentSchema.keyPaths(of: Settings.self, defaults: defaults)
        #expect(
            paths == [
                ["channels"], ["host"], ["labels"], ["mode"], ["nested"], ["nested", "duration_s"],
                ["nested", "max_rounds"], ["port"], ["tls"], ["tls", "ca_file"], ["tls", "verify"], ["username"],
            ])
    }

    @Test("a type with a key the probe cannot build still yields the keys before and after it via its default")
    func enumDefault() throws {
        struct WithEnum: Codable {
            var first = 1
            var mode = Mode.slow
            var last = "x"
        }
        let paths = DocumentSchema.keyPaths(of: WithEnum.self, defaults: try DocumentEncoder().encode(WithEnum()))
        #expect(paths == [["first"], ["last"], ["mode"]])
    }

    @Test("a required enum without a default is answered with its first case, so the keys after it are found")
    func requiredEnum() throws {
        enum Kind: String, Codable, CaseIterable { case a, b }
        struct Section: Codable {
            var kind: Kind
            var after = 2
        }
        struct Root: Codable {
            var section: Section
            var last = "x"
        }
        let paths = DocumentSchema.keyPaths(of: Root.self, defaults: ["last": "x"])
        #expect(paths == [["last"], ["section"], ["section", "after"], ["section", "kind"]])
    }
}
