import Foundation
import Testing

/// The spec's independent Python reader (tools/python) decodes the same committed test vectors as the Swift
/// decoders, field for field, and rejects their corruptions: the spec, the Swift code and the reader cannot drift
/// apart without this failing.
@Suite struct PythonReaderTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    @Test("tools/python/check_vectors.py passes on every committed vector")
    func vectors() throws {
        let python = Self.root.appendingPathComponent("tools/.venv-tools/bin/python")
        #expect(
            FileManager.default.isExecutableFile(atPath: python.path),
            "\(python.path) is missing: tools/bootstrap creates it")
        let process = Process()
        process.executableURL = python
        process.arguments = [Self.root.appendingPathComponent("tools/python/check_vectors.py").path]
        process.currentDirectoryURL = Self.root
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "\(output)")
        #expect(output.contains(" 0 failed"))
        #expect(!output.contains("FAIL"))
    }
}
