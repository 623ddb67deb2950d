import Glibc

/// The directory of the running test binary, where SwiftPM also puts the package's executables.
public func builtExecutable(_ name: String) -> String {
    var buffer = [CChar](repeating: 0, count: 4_096)
    let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
    var directory = n > 0 ? String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self) : "."
    // …/debug/xxxPackageTests.xctest (a file on Linux) → …/debug
    while let slash = directory.lastIndex(of: "/") {
        directory = String(directory[..<slash])
        if access(directory + "/" + name, X_OK) == 0 { return directory + "/" + name }
        if directory.hasSuffix("/.build") { break }
    }
    return name
}
