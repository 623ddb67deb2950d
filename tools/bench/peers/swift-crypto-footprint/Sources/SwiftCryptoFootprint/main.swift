// swift-crypto-footprint [messages] [bytes]: one line, like ../sign_footprint.c:
//   library=swift-crypto sign_us= verify_us= hwm_before_kib= hwm_after_kib= added_kib=
import Crypto
import Foundation

func peakKiB() -> Int {
    let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
    for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
        return Int(line.split(separator: " ", omittingEmptySubsequences: true)[1]) ?? -1
    }
    return -1
}

let arguments = CommandLine.arguments
let count = arguments.count > 1 ? Int(arguments[1]) ?? 1_000 : 1_000
let size = arguments.count > 2 ? Int(arguments[2]) ?? 2_213 : 2_213
let message = Data((0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) })
let before = peakKiB()
let key = Curve25519.Signing.PrivateKey()
let clock = ContinuousClock()
var signature = Data()
let signing = clock.measure {
    for _ in 0..<count { signature = try! key.signature(for: message) }
}
var valid = 0
let verifying = clock.measure {
    for _ in 0..<count where key.publicKey.isValidSignature(signature, for: message) { valid += 1 }
}
guard valid == count else {
    FileHandle.standardError.write(Data("swift-crypto-footprint: \(valid) of \(count) verified\n".utf8))
    exit(1)
}
func microseconds(_ d: Duration) -> Double {
    (Double(d.components.seconds) * 1e6 + Double(d.components.attoseconds) / 1e12) / Double(count)
}
let after = peakKiB()
print(
    "library=swift-crypto sign_us=\(microseconds(signing)) verify_us=\(microseconds(verifying)) hwm_before_kib=\(before) hwm_after_kib=\(after) added_kib=\(after - before)"
)
