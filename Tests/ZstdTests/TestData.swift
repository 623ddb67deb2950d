import TributaryMath

/// Deterministic random numbers for tests.
typealias TestRandom = SplitMix64

enum TestData {
    /// 0: white noise; 1: a slow sine as little-endian Int16 (sensor-like); 2: text-like with repeats.
    static func make(kind: Int, count: Int, rng: inout TestRandom) -> [UInt8] {
        switch kind {
        case 0:
            return (0..<count).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        case 1:
            var bytes: [UInt8] = []
            bytes.reserveCapacity(count)
            var i = 0
            while bytes.count < count {
                let phase = Double(i) * 0.01
                let value = Int16(1000 * (phase - phase.rounded(.down)))
                bytes.append(UInt8(truncatingIfNeeded: value))
                if bytes.count < count { bytes.append(UInt8(truncatingIfNeeded: value >> 8)) }
                i += 1
            }
            return bytes
        default:
            let words = ["sensor", "window", "round", "update", "model", " ", "\n", "42", "imu"]
            var bytes: [UInt8] = []
            while bytes.count < count {
                bytes += Array(words[Int(rng.next() % UInt64(words.count))].utf8)
            }
            return Array(bytes.prefix(count))
        }
    }
}
