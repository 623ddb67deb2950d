/// Deterministic random numbers for tests (SplitMix64).
struct TestRandom: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

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
