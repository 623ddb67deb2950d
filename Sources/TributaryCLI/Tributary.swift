import ArgumentParser
import Foundation
import Inspection
import TributaryWire

/// `tributary`: operator tools.
@main
struct Tributary: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tributary",
        abstract: "Tributary operator tools.",
        subcommands: [Inspect.self, Provision.self]
    )
}

/// `tributary inspect FILE|-`.
struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Decode any Tributary payload (sensor frame batch, update, model, summary) and describe it.",
        discussion: """
            Reads one payload from FILE, or from standard input with '-', for example:
              mosquitto_sub -t 'tributary/v1/fl/har/update/+' -C 1 -N | tributary inspect -
            Exit status: 0 valid, 1 invalid payload (the reason is printed), 2 unreadable input.
            """
    )

    @Argument(help: "A payload file, or '-' for standard input.")
    var file: String

    func run() throws {
        let data: Data
        do {
            data =
                file == "-"
                ? FileHandle.standardInput.readDataToEndOfFile()
                : try Data(contentsOf: URL(fileURLWithPath: file))
        } catch {
            FileHandle.standardError.write(
                Data("tributary inspect: cannot read \(file): \(error.localizedDescription)\n".utf8))
            throw ExitCode(2)
        }
        let result = data.withUnsafeBytes { bytes in
            Result { () throws(WireError) in try PayloadInspector.inspect(bytes) }
        }
        switch result {
        case .success(let report):
            print(report.kind)
            let width = report.fields.map(\.0.count).max() ?? 0
            for (key, value) in report.fields {
                print("  " + key.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + value)
            }
        case .failure(let error):
            FileHandle.standardError.write(Data("tributary inspect: invalid payload: \(error)\n".utf8))
            throw ExitCode(1)
        }
    }
}
