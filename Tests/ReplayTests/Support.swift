import CSVCodec
import Glibc
import Recording
import Simulator
import SimulatorCore
import Testing

@testable import Replay

/// A fresh temporary directory.
func temporaryDirectory() -> String {
    var template = Array("/tmp/tributary-replay-XXXXXX".utf8CString)
    return template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)!) }
}

func writeText(_ text: String, to path: String) {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    precondition(fd >= 0)
    var text = text
    text.withUTF8 { _ = write(fd, $0.baseAddress, $0.count) }
    close(fd)
}

func readText(_ path: String) -> String {
    guard let file = fopen(path, "r") else { return "" }
    defer { fclose(file) }
    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65_536)
    while true {
        let n = fread(&buffer, 1, buffer.count, file)
        if n == 0 { break }
        bytes += buffer[0..<n]
    }
    return String(decoding: bytes, as: UTF8.self)
}

func fileSize(_ path: String) -> Int {
    var info = stat()
    return stat(path, &info) == 0 ? Int(info.st_size) : -1
}

/// A simulated IMU recording with a label channel: `seconds` at `rate` Hz.
@discardableResult
func simulatedRecording(
    _ path: String, seconds: Double, rate: Double = 100, seed: UInt64 = 1, labels: Bool = true,
    chunkFrames: Int = 8_192
) throws -> Int {
    var profile = SimProfile()
    profile.rateHz = rate
    profile.batchFrames = 10
    profile.seed = seed
    profile.labels = labels
    var generator = SyntheticRecording(profile: profile, seconds: seconds)
    generator.chunkFrames = chunkFrames
    return try generator.write(to: path)
}

/// Bit-exact comparison without printing whole arrays.
func expectSameBits(_ a: [Float], _ b: [Float], sourceLocation: SourceLocation = #_sourceLocation) {
    guard a.count == b.count else {
        Issue.record("\(a.count) values, expected \(b.count)", sourceLocation: sourceLocation)
        return
    }
    if let i = a.indices.first(where: { a[$0].bitPattern != b[$0].bitPattern }) {
        Issue.record("value \(i) is \(a[i]), expected \(b[i])", sourceLocation: sourceLocation)
    }
}
