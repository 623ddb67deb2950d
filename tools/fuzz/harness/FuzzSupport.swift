// Shared by every Tributary fuzz harness (compiled into each harness binary next to its target file).
import TributaryWire

#if canImport(Glibc)
    import Glibc
#endif

/// Runs `check` on the input exactly as libFuzzer gave it (so the checksum path is exercised), then, when the
/// input has room for a checksum, on an exact-size copy whose last four bytes are replaced by the CRC32C of the
/// bytes before them. Without the second pass almost every mutation would stop at `bad_checksum`; with it the
/// mutations reach the field checks and the body decoding. Both copies are exact-size heap or libFuzzer buffers,
/// so AddressSanitizer sees any read past the end.
func withBothChecksums(_ data: UnsafePointer<UInt8>, _ size: Int, _ check: (UnsafeRawBufferPointer) -> Void) {
    let input = UnsafeRawBufferPointer(start: data, count: size)
    if !printVerdicts { check(input) }
    guard size >= 4 else {
        if printVerdicts { check(input) }
        return
    }
    let crc = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: input[..<(size - 4)]))
    let stored = UInt32(littleEndian: input.loadUnaligned(fromByteOffset: size - 4, as: UInt32.self))
    guard crc != stored || printVerdicts else { return }  // already valid: the first pass did it
    let fixed = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 1)
    defer { fixed.deallocate() }
    fixed.copyMemory(from: input)
    fixed.storeBytes(of: crc.littleEndian, toByteOffset: size - 4, as: UInt32.self)
    check(UnsafeRawBufferPointer(fixed))
}

/// Whether the harness also checks what a successful decode promises (TRIBUTARY_FUZZ_INVARIANTS=1). Off by
/// default: then only crashes (traps, sanitizer reports, leaks, time-outs) count.
let invariantsEnabled: Bool = {
    guard let value = getenv("TRIBUTARY_FUZZ_INVARIANTS") else { return false }
    return value.pointee == UInt8(ascii: "1")
}()

/// Traps (so libFuzzer saves the input) when invariant checking is on and `condition` is false.
@inline(__always)
func invariant(_ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String) {
    if invariantsEnabled && !condition() { fatalError("invariant violated: \(message())") }
}

/// Writes `bytes` to `directory/name` (seed corpus generation).
func writeSeed(_ bytes: [UInt8], directory: String, name: String) {
    let path = directory + "/" + name
    guard let file = fopen(path, "wb") else {
        print("cannot write \(path)")
        return
    }
    _ = bytes.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, file) }
    fclose(file)
}

/// With TRIBUTARY_FUZZ_PRINT=1 the harness checks only the checksum-fixed copy of each input and prints
/// `verdict CODE HEX` (CODE is `ok` or the WireError's reason) for it: tools/fuzz/differential.py compares these
/// with the independent Python reader.
let printVerdicts: Bool = {
    guard let value = getenv("TRIBUTARY_FUZZ_PRINT") else { return false }
    return value.pointee == UInt8(ascii: "1")
}()

/// Runs a decoder; in verdict mode prints its outcome for `bytes`.
func verdict<T>(_ bytes: UnsafeRawBufferPointer, _ decode: () throws(WireError) -> T) -> T? {
    do {
        let value = try decode()
        if printVerdicts { printVerdict("ok", bytes) }
        return value
    } catch {
        if printVerdicts { printVerdict("\(error.code)", bytes) }
        return nil
    }
}

func printVerdict(_ code: String, _ bytes: UnsafeRawBufferPointer) {
    let digits: [Character] = Array("0123456789abcdef")
    var hex = ""
    hex.reserveCapacity(2 * bytes.count)
    for byte in bytes {
        hex.append(digits[Int(byte >> 4)])
        hex.append(digits[Int(byte & 15)])
    }
    print("verdict \(code) \(hex)")
}
