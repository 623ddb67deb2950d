import Configuration
import Foundation
import Testing
import TributaryTestSupport

@testable import Agent

/// The agent's configuration: the shipped sample, environment overrides, and errors that name the key.
struct ConfigTests {
    static let sample = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Configs/agent.yaml").path

    @Test("Configs/agent.yaml loads, is valid, and says what the defaults are")
    func sample() throws {
        let config = try AgentConfig.load(path: Self.sample, environment: [:])
        try config.validate()
        var defaults = AgentConfig()
        defaults.deviceId = config.deviceId
        // The sample is a development configuration, and says so: production is the default.
        #expect(config.insecure && !defaults.insecure)
        defaults.insecure = true
        #expect(config == defaults, "the sample documents the defaults")
    }

    static let production = URL(fileURLWithPath: sample).deletingLastPathComponent()
        .appendingPathComponent("production/agent.yaml").path

    @Test("Configs/production/agent.yaml is production mode and passes --check")
    func productionSample() async throws {
        let config = try AgentConfig.load(path: Self.production, environment: [:])
        try config.validate()
        #expect(!config.insecure && config.trust.signingKey != nil && config.trust.aggregatorKey != nil)
        guard case .tls(let tls) = config.broker.transport else {
            Issue.record("the production sample has no TLS")
            return
        }
        #expect(tls.identity != nil && tls.verifyHostname)
        var template = Array("/tmp/tributary-agent-check-XXXXXX".utf8CString)
        let directory = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)!) }
        let process = try ChildProcess(
            builtExecutable("tributary-agent"), ["--config", Self.production, "--check"],
            standardOutput: directory + "/check.log")
        #expect(await process.waitForExit(timeout: .seconds(30)) == 0)
        let output = try String(contentsOfFile: directory + "/check.log", encoding: .utf8)
        #expect(output.contains("configuration OK") && output.contains("mode: production"), "\(output)")
        // Without TLS, or without its key, production refuses to start, naming the key.
        var plain = config
        plain.broker.transport = .plaintext
        #expect { try plain.validate() } throws: { ($0 as? ConfigError)?.key == "broker.tls" }
        var keyless = config
        keyless.trust.signingKey = nil
        #expect { try keyless.validate() } throws: { ($0 as? ConfigError)?.key == "trust.signing_key" }
    }

    @Test("environment variables override the file; an unknown key or a bad value is named")
    func overrides() throws {
        let config = try AgentConfig.load(
            path: Self.sample,
            environment: ["TRIBUTARY_AGENT_BROKER_PORT": "1884", "TRIBUTARY_AGENT_SOURCE_KIND": "udp"])
        #expect(config.broker.port == 1884 && config.source.kind == "udp")
        var bad = config
        bad.minWindows = bad.bufferWindows + 1
        #expect(throws: ConfigError.self) { try bad.validate() }
        do {
            try bad.validate()
        } catch {
            #expect(error.key == "min_windows")
        }
        // The ring needs a power of two: refused by name, not a crash at start.
        bad = config
        bad.ringFrames = 5_000
        #expect { try bad.validate() } throws: { ($0 as? ConfigError)?.key == "ring_frames" }
        var template = Array("/tmp/tributary-agent-config-XXXXXX".utf8CString)
        let directory = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)!) }
        try "device_id: a\nsorce: {kind: udp}\n".write(toFile: directory + "/a.yaml", atomically: true, encoding: .utf8)
        #expect(throws: ConfigError.self) { try AgentConfig.load(path: directory + "/a.yaml", environment: [:]) }
    }

    @Test("the command line: help for each subcommand; unknown options, missing and bad values exit 64 naming them")
    func commandLine() async throws {
        var template = Array("/tmp/tributary-agent-cli-XXXXXX".utf8CString)
        let directory = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)!) }
        func run(_ arguments: [String]) async throws -> (code: Int32?, output: String) {
            let log = directory + "/out-\(UUID().uuidString).log"
            let process = try ChildProcess(builtExecutable("tributary-agent"), arguments, standardOutput: log)
            let code = await process.waitForExit(timeout: .seconds(30))
            return (code, (try? String(contentsOfFile: log, encoding: .utf8)) ?? "")
        }
        for (arguments, words) in [
            (["--help"], "SUBCOMMANDS"), (["run", "--help"], "--device-id <id>"), (["train", "-h"], "--recording"),
            (["fleet", "--help"], "--first-device"),
        ] {
            let (code, output) = try await run(arguments)
            #expect(code == 0, "\(arguments)")
            #expect(output.contains(words), "\(arguments): \(output)")
        }
        for (arguments, words) in [
            (["--bogus"], "unknown option '--bogus'"), (["--config"], "--config needs a value"),
            (["train", "--task", "t.yaml"], "--recording"), (["fleet", "--devices", "many"], "whole number"),
            (["fleet", "--devices", "301"], "1…300"), (["--config", directory + "/none.yaml"], "cannot open"),
            (["--broker=localhost", "--config", Self.sample], "--broker"), (["stray"], "unexpected argument 'stray'"),
            // A production fleet whose devices would share one certificate and one key.
            (["fleet", "--devices", "2", "--config", Self.production], "write {id} in the path"),
        ] {
            let (code, output) = try await run(arguments)
            #expect(code == 64, "\(arguments): \(output)")
            #expect(output.contains(words), "\(arguments): \(output)")
        }
    }
}
