import Foundation

/// One result row: the median of several runs of one measurement for one implementation.
///
/// Printed with `--json` as one JSON object per line. Rows that compare the same thing share `name`, so a ratio
/// between `tributary` and a peer (`impl`) can be computed from a single run of the benchmark.
struct BenchRow: Encodable {
    var `case`: String
    var name: String
    var impl: String
    var value: Double
    var unit: String
    var better: String
    /// Runs behind the median, and their spread.
    var runs: Int
    var min: Double
    var max: Double

    /// Builds a row from raw samples (the median is the value).
    init(case: String, name: String, impl: String, samples: [Double], unit: String, higherIsBetter: Bool) {
        precondition(!samples.isEmpty, "a row needs at least one sample")
        let sorted = samples.sorted()
        let middle = sorted.count / 2
        self.case = `case`
        self.name = name
        self.impl = impl
        self.value = sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
        self.unit = unit
        self.better = higherIsBetter ? "higher" : "lower"
        self.runs = samples.count
        self.min = sorted.first!
        self.max = sorted.last!
    }
}

/// Collects rows and prints them as JSON lines or as a table with ratios against peers.
final class BenchReport {
    private(set) var rows: [BenchRow] = []
    let json: Bool

    init(json: Bool) { self.json = json }

    func add(_ row: BenchRow) {
        rows.append(row)
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            if let data = try? encoder.encode(row) { print(String(decoding: data, as: UTF8.self)) }
        }
    }

    /// `tributary ÷ peer` for a row, oriented so that above 1 means Tributary is better.
    func ratio(_ row: BenchRow) -> Double? {
        guard row.impl != "tributary",
            let ours = rows.first(where: { $0.name == row.name && $0.impl == "tributary" && $0.unit == row.unit })
        else { return nil }
        return row.better == "higher" ? ours.value / row.value : row.value / ours.value
    }

    /// A human-readable table (to standard error when JSON goes to standard output).
    func printTable() {
        var lines = [String]()
        let header = ["name", "impl", "median", "min", "max", "unit", "runs", "tributary ÷ peer"]
        var table = [header]
        for row in rows {
            table.append([
                row.name, row.impl, Self.format(row.value), Self.format(row.min), Self.format(row.max), row.unit,
                "\(row.runs)", ratio(row).map { String(format: "%.2f×", $0) } ?? "",
            ])
        }
        let widths = header.indices.map { column in table.map { $0[column].count }.max() ?? 0 }
        for (index, cells) in table.enumerated() {
            lines.append(
                zip(cells, widths).map { $0.padding(toLength: $1, withPad: " ", startingAt: 0) }
                    .joined(separator: "  "))
            if index == 0 { lines.append(widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ")) }
        }
        let text = lines.joined(separator: "\n") + "\n"
        if json {
            FileHandle.standardError.write(Data(text.utf8))
        } else {
            print(text, terminator: "")
        }
    }

    static func format(_ value: Double) -> String {
        switch abs(value) {
        case 1e9...: String(format: "%.3fG", value / 1e9)
        case 1e6...: String(format: "%.3fM", value / 1e6)
        case 1e4...: String(format: "%.1fk", value / 1e3)
        case 100...: String(format: "%.1f", value)
        default: String(format: "%.4g", value)
        }
    }
}

/// Progress messages on standard error, so JSON on standard output stays clean.
func progress(_ message: String) {
    FileHandle.standardError.write(Data("[bench] \(message)\n".utf8))
}
