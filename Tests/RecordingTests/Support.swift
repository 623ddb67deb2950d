import Glibc
import Testing
import TributaryMath

@testable import Recording

/// The project's seeded generator, for test data.
struct TestRandom {
    var bits: SplitMix64
    init(_ seed: UInt64) { bits = SplitMix64(seed: seed) }
    mutating func next() -> UInt64 { bits.next() }
    mutating func unit() -> Double { bits.unit() }
}

/// A fresh path in a per-test temporary directory.
func temporaryPath(_ name: String) -> String {
    var template = Array("/tmp/tributary-recording-XXXXXX".utf8CString)
    let directory = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)!) }
    return directory + "/" + name
}

func fileSize(_ path: String) -> Int {
    var info = stat()
    return stat(path, &info) == 0 ? Int(info.st_size) : -1
}

func truncateFile(_ path: String, to size: Int) {
    precondition(truncate(path, off_t(size)) == 0)
}

/// Flips one byte of a file.
func corrupt(_ path: String, at offset: Int) {
    let fd = open(path, O_RDWR)
    precondition(fd >= 0)
    var byte: UInt8 = 0
    _ = pread(fd, &byte, 1, off_t(offset))
    byte ^= 0x5A
    _ = pwrite(fd, &byte, 1, off_t(offset))
    close(fd)
}

/// Writes frames through a writer.
func append(_ writer: RecordingWriter, stream: UInt16, _ timestamps: [Int64], _ values: [Float]) throws {
    try timestamps.withUnsafeBufferPointer { t in
        try values.withUnsafeBufferPointer { v in try writer.append(stream: stream, timestamps: t, values: v) }
    }
}

/// Sensor-like float32 data: smooth signals with noise, printed decimals, and the awkward values.
func sampleValues(frames: Int, channels: Int, seed: UInt64, awkward: Bool) -> [Float] {
    var rng = TestRandom(seed)
    var values: [Float] = []
    values.reserveCapacity(frames * channels)
    for i in 0..<frames {
        for c in 0..<channels {
            switch c % 3 {
            case 0: values.append(Float(sin(Double(i) * 0.05 + Double(c))) * 9.81 + Float(rng.unit() - 0.5) * 0.01)
            case 1: values.append(Float((Double(Int(rng.next() % 2_000)) - 1_000) / 100))  // two decimals
            default:
                values.append(
                    Float(bitPattern: UInt32(truncatingIfNeeded: rng.next())).isFinite
                        ? Float(bitPattern: UInt32(truncatingIfNeeded: rng.next()) & 0xBFFF_FFFF) : 0)
            }
        }
    }
    if awkward && values.count >= 8 {
        for (i, v) in [
            Float.nan, -0.0, .infinity, -.infinity, .leastNonzeroMagnitude, -.greatestFiniteMagnitude,
            Float(bitPattern: 0x7FC0_1234), 1e-30,
        ].enumerated() {
            values[i * (values.count / 8)] = v
        }
    }
    return values
}

func bits(_ values: [Float]) -> [UInt32] { values.map(\.bitPattern) }

/// Whether two float arrays are equal bit for bit (without printing thousands of values when they are not).
func expectSameBits(_ a: [Float], _ b: [Float], sourceLocation: SourceLocation = #_sourceLocation) {
    guard a.count == b.count else {
        Issue.record("\(a.count) values, expected \(b.count)", sourceLocation: sourceLocation)
        return
    }
    if let i = a.indices.first(where: { a[$0].bitPattern != b[$0].bitPattern }) {
        Issue.record(
            "value \(i) is \(a[i]) (bits \(a[i].bitPattern)), expected \(b[i]) (bits \(b[i].bitPattern))",
            sourceLocation: sourceLocation)
    }
}
