import Configuration
import Foundation
import Testing

@testable import AggregatorService

/// The aggregator's configuration file: the shipped sample, and mistakes named by their key.
@Suite struct ConfigTests {
    static let sample = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Configs/aggregator.yaml").path

    @Test("Configs/aggregator.yaml loads and is valid")
    func sample() throws {
        let config = try ConfigLoader.load(path: Self.sample, environment: [:])
        #expect(config.task.hash != nil && config.rounds.minParticipants >= 1)
    }

    @Test("Configs/production/aggregator.yaml is production mode: TLS, keys, registry, a token off loopback")
    func productionSample() throws {
        let path = URL(fileURLWithPath: Self.sample).deletingLastPathComponent()
            .appendingPathComponent("production/aggregator.yaml").path
        let config = try ConfigLoader.load(path: path, environment: [:])
        try config.validate()
        #expect(!config.insecure && config.trust.signingKey != nil && config.trust.registry != nil)
        #expect(config.http.tokenFile != nil && config.http.host != "127.0.0.1")
        guard case .tls(let tls) = config.broker.transport else {
            Issue.record("the production sample has no TLS")
            return
        }
        #expect(tls.identity != nil)
        // Without the token the non-loopback endpoint is refused.
        var open = config
        open.http.tokenFile = nil
        #expect(throws: ConfigError.self) { try open.validate() }
    }

    @Test("a misspelt key, at the top or nested, is refused by name instead of being ignored")
    func unknownKeys() throws {
        let yaml = try String(contentsOfFile: Self.sample, encoding: .utf8)
        #expect { try ConfigLoader.parse(yaml: yaml + "\nstrategi: {kind: fedavg}\n") } throws: {
            ($0 as? ConfigError)?.key == "strategi"
        }
        #expect {
            try ConfigLoader.parse(yaml: yaml.replacingOccurrences(of: "min_participants:", with: "min_participant:"))
        } throws: { ($0 as? ConfigError)?.key.hasSuffix("min_participant") == true }
        #expect {
            try ConfigLoader.parse(yaml: yaml.replacingOccurrences(of: "[0, 1, 2, 3, 4, 5]", with: "[0, one]"))
        } throws: { ($0 as? ConfigError)?.key == "task.data.channels[1]" }
    }

    @Test("absurd limits are refused by name: none, negative, not a number, a history shorter than staleness")
    func absurdBudgets() throws {
        let yaml = try String(contentsOfFile: Self.sample, encoding: .utf8)
        for (setting, value) in [
            ("update_burst", "0"), ("status_burst", "-3"), ("updates_per_device_s", "0"),
            ("statuses_per_device_s", ".nan"), ("updates_per_device_s", "-1"), ("max_devices", "0"),
            // The sample's max_staleness is 4: history must outlast the rounds a resend may still be for.
            ("keep_rounds", "5"),
        ] {
            let changed = yaml.replacingOccurrences(of: "\n  \(setting): ", with: "\n  \(setting): \(value) #")
            #expect(changed != yaml, "the sample sets \(setting)")
            #expect {
                try ConfigLoader.parse(yaml: changed)
            } throws: { ($0 as? ConfigError)?.key == "limits.\(setting)" }
        }
    }

    @Test("a negative or infinite connect_timeout_s is refused by name")
    func absurdConnectTimeout() throws {
        let yaml = try String(contentsOfFile: Self.sample, encoding: .utf8)
        for value in ["-1", ".inf", ".nan"] {
            let changed = yaml.replacingOccurrences(
                of: "\nconnect_timeout_s: ", with: "\nconnect_timeout_s: \(value) #")
            #expect(changed != yaml, "the sample sets connect_timeout_s")
            #expect {
                try ConfigLoader.parse(yaml: changed)
            } throws: { ($0 as? ConfigError)?.key == "connect_timeout_s" }
        }
    }

    @Test("every section's settings are known, after the task's required fields too, so the environment reaches them")
    func environment() throws {
        let keys = YAMLConfiguration.settings(of: AggregatorConfig.self, defaults: ConfigLoader.defaults)
            .map { $0.joined(separator: ".") }
        for key in ["task.model.inputs", "rounds.duration_s", "limits.max_update_bytes", "evaluation.recording"] {
            #expect(keys.contains(key), "\(key)")
        }
        let config = try ConfigLoader.load(
            path: Self.sample, environment: ["TRIBUTARY_AGGREGATOR_ROUNDS_DURATION_S": "7.5"])
        #expect(config.rounds.durationS == 7.5)
    }
}
