import Foundation
import LocalBroker

/// Builds and runs the peers the benchmarks compare against: small C/C++ programs of ours in `tools/bench/peers`,
/// compiled with the system compiler into `.build/peers` when missing or older than their source.
enum PeerPrograms {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    static var sourceDirectory: URL { Repository.root.appendingPathComponent("tools/bench/peers") }
    static var buildDirectory: URL { Repository.root.appendingPathComponent(".build/peers") }

    /// Returns the path of the compiled peer `name` (from `name.c` or `name.cpp`), building it if needed.
    static func executable(_ name: String, libraries: [String], cpp: Bool = false) throws -> String {
        let source = sourceDirectory.appendingPathComponent(name + (cpp ? ".cpp" : ".c"))
        let output = buildDirectory.appendingPathComponent(name)
        let fm = FileManager.default
        try fm.createDirectory(at: buildDirectory, withIntermediateDirectories: true)
        let sourceDate = try fm.attributesOfItem(atPath: source.path)[.modificationDate] as? Date ?? .distantFuture
        let outputDate = (try? fm.attributesOfItem(atPath: output.path)[.modificationDate] as? Date) ?? .distantPast
        if outputDate < sourceDate {
            progress("building peer \(name)")
            let compiler = cpp ? "/usr/bin/g++" : "/usr/bin/gcc"
            let standard = cpp ? ["-std=c++17"] : []
            let flags = standard + ["-O2", "-march=native", "-Wall", "-o", output.path, source.path] + libraries
            let status = try run(compiler, flags).status
            guard status == 0 else { throw Failure(description: "building \(name) failed (status \(status))") }
        }
        return output.path
    }

    /// The Python of the benchmarks' virtualenv (`tools/.venv-bench`), created with the pinned requirements of
    /// `tools/bench/python/requirements.txt` when missing.
    static func python() throws -> String {
        let venv = Repository.root.appendingPathComponent("tools/.venv-bench")
        let python = venv.appendingPathComponent("bin/python").path
        let requirements = Repository.root.appendingPathComponent("tools/bench/python/requirements.txt").path
        let marker = venv.appendingPathComponent(".requirements-installed").path
        let fm = FileManager.default
        if !fm.fileExists(atPath: marker) {
            progress("creating the benchmark virtualenv in tools/.venv-bench")
            guard try run("/usr/bin/env", ["python3", "-m", "venv", venv.path]).status == 0,
                try run(python, ["-m", "pip", "install", "-q", "-r", requirements]).status == 0
            else { throw Failure(description: "cannot create tools/.venv-bench (python3 -m venv, pip install)") }
            _ = fm.createFile(atPath: marker, contents: Data())
        }
        return python
    }

    /// The path of a script in `tools/bench/python`.
    static func pythonScript(_ name: String) -> String {
        Repository.root.appendingPathComponent("tools/bench/python/\(name)").path
    }

    /// Runs a program to completion and returns its exit status and standard output.
    static func run(_ executable: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// Parses `key=value` pairs from a peer's output line.
    static func fields(_ output: String) -> [String: Double] {
        var result: [String: Double] = [:]
        for token in output.split(whereSeparator: { $0 == " " || $0 == "\n" }) {
            let parts = token.split(separator: "=", maxSplits: 1)
            if parts.count == 2, let value = Double(parts[1]) { result[String(parts[0])] = value }
        }
        return result
    }
}
