/// A wrong command line: the message, then the usage, and exit code 64.
struct UsageError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// `--name value` / `--name=value` options and `--flag` flags of one subcommand (the agent's command line is
/// small; a parser library would cost the device memory).
struct Options {
    /// What a subcommand accepts.
    struct Spec {
        /// Options that take a value (without `--`), with their help.
        var options: [(name: String, value: String, help: String)]
        /// Flags, with their help.
        var flags: [(name: String, help: String)]
        /// Options that may be given more than once.
        var repeatable: Set<String> = []
    }

    private(set) var values: [String: [String]] = [:]
    private(set) var flags: Set<String> = []

    /// Parses `arguments`; `--help` is left to the caller (see ``wantsHelp(_:)``).
    init(_ arguments: ArraySlice<String>, spec: Spec) throws(UsageError) {
        var rest = arguments[...]
        while let argument = rest.popFirst() {
            guard argument.hasPrefix("--"), argument.count > 2 else {
                throw UsageError("unexpected argument '\(argument)'")
            }
            var name = String(argument.dropFirst(2))
            var inline: String?
            if let equals = name.firstIndex(of: "=") {
                inline = String(name[name.index(after: equals)...])
                name = String(name[..<equals])
            }
            if spec.flags.contains(where: { $0.name == name }) {
                guard inline == nil else { throw UsageError("--\(name) takes no value") }
                flags.insert(name)
            } else if spec.options.contains(where: { $0.name == name }) {
                guard let value = inline ?? rest.popFirst() else { throw UsageError("--\(name) needs a value") }
                guard values[name] == nil || spec.repeatable.contains(name) else {
                    throw UsageError("--\(name) given twice")
                }
                values[name, default: []].append(value)
            } else {
                throw UsageError("unknown option '--\(name)'")
            }
        }
    }

    /// True when `-h`, `--help` or `help` is among the arguments.
    static func wantsHelp(_ arguments: ArraySlice<String>) -> Bool {
        arguments.contains { $0 == "-h" || $0 == "--help" }
    }

    /// The last value of an option.
    subscript(_ name: String) -> String? { values[name]?.last }

    /// Every value of a repeatable option.
    func all(_ name: String) -> [String] { values[name] ?? [] }

    /// A whole-number option, or `fallback` when absent.
    func integer(_ name: String, default fallback: Int) throws(UsageError) -> Int {
        guard let text = self[name] else { return fallback }
        guard let value = Int(text) else { throw UsageError("--\(name) must be a whole number, not '\(text)'") }
        return value
    }

    /// The help text: a title, what the command does, then its options.
    static func help(usage: String, abstract: String, discussion: String, spec: Spec) -> String {
        var lines = ["OVERVIEW: \(abstract)", "", wrap(discussion), "", "USAGE: \(usage)", "", "OPTIONS:"]
        let entries =
            spec.options.map { ("--\($0.name) <\($0.value)>", $0.help) } + spec.flags.map { ("--\($0.name)", $0.help) }
            + [("-h, --help", "Show help information.")]
        let width = (entries.map(\.0.count).max() ?? 0) + 2
        for (name, text) in entries {
            lines.append("  " + name + String(repeating: " ", count: width - name.count) + text)
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Words wrapped at 100 columns.
    static func wrap(_ text: String) -> String {
        var lines: [String] = []
        var line = ""
        for word in text.split(separator: " ") {
            if !line.isEmpty && line.count + word.count + 1 > 100 {
                lines.append(line)
                line = ""
            }
            line += (line.isEmpty ? "" : " ") + word
        }
        if !line.isEmpty { lines.append(line) }
        return lines.joined(separator: "\n")
    }
}
