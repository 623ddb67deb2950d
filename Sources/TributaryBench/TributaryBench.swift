import ArgumentParser
import Foundation
import Logging

/// `tributary-bench CASE [--json]`: Tributary's benchmarks, each against its peers in the same run.
@main
struct TributaryBench: AsyncParsableCommand {
    static let cases = ["mqtt", "ring", "summaries", "sketch", "learn", "codec", "replay", "aggregate", "trust"]

    static let configuration = CommandConfiguration(
        commandName: "tributary-bench",
        abstract: "Measure Tributary's hot paths against peer implementations, in the same run on this machine.",
        discussion: """
            Cases: \(cases.joined(separator: ", ")).
            Build in release mode first: swift build -c release --product tributary-bench.
            With --json, one JSON object per line on standard output:
              {"case", "name", "impl", "value", "unit", "better", "runs", "min", "max"}
            where value is the median over --runs runs; the table (with tributary ÷ peer ratios) goes to stderr.
            """
    )

    @Argument(help: "What to measure: \(cases.joined(separator: ", ")), or all.")
    var benchCase: String

    @Flag(help: "Print one JSON object per result line.")
    var json = false

    @Option(help: "Runs per measurement; the median is reported.")
    var runs = 5

    @Flag(help: "Smaller workloads, for a smoke run.")
    var quick = false

    @Option(help: "Measure only this implementation (tributary or a peer's name), for profiling.")
    var impl: String?

    @Option(help: "Measure only the measurements whose name contains this text, for profiling.")
    var only: String?

    func validate() throws {
        guard benchCase == "all" || Self.cases.contains(benchCase) else {
            throw ValidationError(
                "unknown case '\(benchCase)'; expected one of: \(Self.cases.joined(separator: ", ")), all")
        }
        guard runs >= 1 else { throw ValidationError("--runs must be at least 1") }
    }

    func run() async throws {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = .warning
            return handler
        }
        let report = BenchReport(json: json)
        #if DEBUG
            progress("warning: this is a debug build; measure with -c release")
        #endif
        let selected = benchCase == "all" ? Self.cases : [benchCase]
        for name in selected {
            switch name {
            case "mqtt": try await MQTTBenchmark.run(runs: runs, quick: quick, impl: impl, only: only, report: report)
            case "ring": try RingBenchmark.run(runs: runs, quick: quick, impl: impl, report: report)
            case "summaries": SummariesBenchmark.run(runs: runs, quick: quick, report: report)
            case "sketch": try SketchBenchmark.run(runs: runs, quick: quick, impl: impl, report: report)
            case "learn": try LearnBenchmark.run(runs: runs, quick: quick, impl: impl, only: only, report: report)
            case "codec": try CodecBenchmark.run(runs: runs, quick: quick, only: only, report: report)
            case "replay": try await ReplayBenchmark.run(runs: runs, quick: quick, only: only, report: report)
            case "aggregate": try await AggregateBenchmark.run(runs: runs, quick: quick, report: report)
            case "trust": try await TrustBenchmark.run(runs: runs, quick: quick, only: only, report: report)
            default: break
            }
        }
        report.printTable()
    }
}
