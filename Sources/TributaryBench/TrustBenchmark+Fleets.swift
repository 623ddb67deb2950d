import Foundation
import LocalBroker

/// The trust benchmark's whole-system measurements: the demo's real agents (release binaries) and Flower's
/// deployed runtime, each run as its own program.
extension TrustBenchmark {
    /// One run of `tools/demo.py` (seglearn, 10 agents) in a mode: its summary.
    struct DemoRun {
        var peakMax: Double
        var up: Double
        var down: Double
    }

    static let wireUp = "wire bytes per node per round, up (TCP payload, everything)"
    static let wireDown = "wire bytes per node per round, down (TCP payload, everything)"

    /// The demo's modes: development (plain TCP, nothing signed), mutual TLS only, production.
    static let demoModes: [(impl: String, flags: [String])] = [
        ("tributary insecure (plain TCP, unsigned)", []),
        ("tributary TLS only (mutual TLS, unsigned)", ["--tls-only"]),
        ("tributary", ["--secure"]),
    ]

    /// Agent peak memory and wire bytes per device and round in each mode; returns what signatures alone add
    /// over the same TLS connections, per device and round (medians of the runs' differences).
    static func agents(rounds: Int, runs: Int, report: BenchReport) throws -> (up: Double, down: Double) {
        for binary in ["tributary-agent", "tributary-aggregator", "tributary"] {
            let path = Repository.root.appendingPathComponent(".build/release/\(binary)").path
            guard FileManager.default.isExecutableFile(atPath: path) else {
                throw PeerPrograms.Failure(
                    description: "trust: \(path) is missing; build the release products first (tools/demo does)")
            }
        }
        // The demo's Python tools (its virtualenv) and packages, as tools/demo installs them.
        guard try runQuietly(Repository.root.appendingPathComponent("tools/bootstrap").path, []) == 0 else {
            throw PeerPrograms.Failure(description: "trust: tools/bootstrap failed")
        }
        var results: [String: [DemoRun]] = [:]
        for run in 1...runs {
            for mode in demoModes {
                progress("trust: demo run \(run)/\(runs), \(mode.impl)")
                results[mode.impl, default: []].append(try demo(rounds: rounds, flags: mode.flags))
            }
        }
        let peak = "agent peak memory (VmHWM, largest of the demo's 10 agents)"
        let up = wireUp
        let down = wireDown
        for mode in demoModes {
            let runs = results[mode.impl]!
            report.add(
                BenchRow(
                    case: "trust", name: peak, impl: mode.impl, samples: runs.map(\.peakMax), unit: "MiB",
                    higherIsBetter: false))
            report.add(
                BenchRow(
                    case: "trust", name: up, impl: mode.impl, samples: runs.map(\.up), unit: "bytes",
                    higherIsBetter: false))
            report.add(
                BenchRow(
                    case: "trust", name: down, impl: mode.impl, samples: runs.map(\.down), unit: "bytes",
                    higherIsBetter: false))
        }
        let signed = results["tributary"]!
        let tls = results[demoModes[1].impl]!
        return (
            up: median(zip(signed, tls).map { $0.up - $1.up }), down: median(zip(signed, tls).map { $0.down - $1.down })
        )
    }

    static func demo(rounds: Int, flags: [String]) throws -> DemoRun {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent(
            "tributary-bench-demo-\(UUID().uuidString).json")
        defer { try? FileManager.default.removeItem(at: out) }
        let status = try runQuietly(
            "/usr/bin/env",
            [
                "python3", Repository.root.appendingPathComponent("tools/demo.py").path, "--rounds", "\(rounds)",
                "--json", out.path,
            ] + flags)
        guard status == 0, let json = try? object(out) else {
            throw PeerPrograms.Failure(
                description: "trust: the demo \(flags.joined(separator: " ")) failed (\(status))")
        }
        guard let peakMax = json["agent_peak_rss_mib_max"] as? Double,
            let up = json["up_wire_bytes_per_device_round"] as? Double,
            let down = json["down_wire_bytes_per_device_round"] as? Double
        else { throw PeerPrograms.Failure(description: "trust: the demo's JSON lacks its summary") }
        return DemoRun(peakMax: peakMax, up: up, down: down)
    }

    /// Flower 1.42 on the same task over TLS with SuperNode authentication: the bytes its authentication puts on
    /// the wire per node and round (a public key, a timestamp and a signature in the headers of every request,
    /// 514 bytes, whether or not the SuperLink enforces an allow list), beside what Tributary's signatures add
    /// over its TLS connections (`ours`: the demo in production minus the demo over TLS alone).
    static func flower(rounds: Int, ours: (up: Double, down: Double)?, report: BenchReport) throws {
        progress("trust: Flower over TLS with SuperNode authentication, \(rounds) rounds")
        let out = FileManager.default.temporaryDirectory.appendingPathComponent(
            "tributary-bench-flower-\(UUID().uuidString).json")
        defer { try? FileManager.default.removeItem(at: out) }
        let status = try runQuietly(
            Repository.root.appendingPathComponent("tools/bench/flower/run").path,
            ["--rounds", "\(rounds)", "--tls", "--auth", "--json", out.path])
        guard status == 0, let json = try? object(out),
            let up = json["up_wire_bytes_per_node_round_median"] as? Double,
            let down = json["down_wire_bytes_per_node_round_median"] as? Double,
            let auth = json["auth_metadata_bytes_per_node_round"] as? Double,
            let requests = json["requests_per_node_round"] as? Double,
            let perRequest = json["auth_metadata_bytes_per_request"] as? Double
        else { throw PeerPrograms.Failure(description: "trust: the Flower run failed (\(status))") }
        progress(
            "trust: Flower sends \(Int(requests)) requests per node per round, \(Int(perRequest)) bytes of authentication each"
        )
        let name = "authentication bytes per node per round, up (signatures, keys, timestamps)"
        report.add(
            BenchRow(
                case: "trust", name: name, impl: "flower", samples: [auth], unit: "bytes", higherIsBetter: false))
        if let ours {
            report.add(
                BenchRow(
                    case: "trust", name: name, impl: "tributary", samples: [max(ours.up, 0)], unit: "bytes",
                    higherIsBetter: false))
            report.add(
                BenchRow(
                    case: "trust", name: "authentication bytes per node per round, down (signatures)",
                    impl: "tributary",
                    samples: [max(ours.down, 0)], unit: "bytes", higherIsBetter: false))
        }
        report.add(
            BenchRow(
                case: "trust", name: wireUp, impl: "flower (TLS + SuperNode auth)", samples: [up], unit: "bytes",
                higherIsBetter: false))
        report.add(
            BenchRow(
                case: "trust", name: wireDown, impl: "flower (TLS + SuperNode auth)", samples: [down], unit: "bytes",
                higherIsBetter: false))
    }

    /// Runs a program with its output on standard error (standard output carries the JSON lines).
    static func runQuietly(_ executable: String, _ arguments: [String]) throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.currentDirectoryURL = Repository.root
        process.standardOutput = FileHandle.standardError
        try process.run()
        process.waitUntilExit()
        return process.terminationStatus
    }

    static func object(_ file: URL) throws -> [String: Any] {
        (try JSONSerialization.jsonObject(with: Data(contentsOf: file)) as? [String: Any]) ?? [:]
    }
}
