import Foundation
import Glibc

extension MosquittoBroker {
    /// Writes `mosquitto.conf` (and a password file) into the broker's folder.
    func writeConfiguration() throws {
        var lines: [String] = [
            "# Generated for a Tributary test run; see Configs/mosquitto/dev.conf for the commented original.",
            // Started as root, Mosquitto switches to the `mosquitto` user and then cannot write into this
            // root-owned folder; naming the current user keeps it as whoever started it.
            "user \(Self.currentUserName())",
            "per_listener_settings false",
            "log_dest file \(logFile.path)",
            "log_type error",
            "log_type warning",
            "log_type notice",
            "log_type information",
            "connection_messages true",
            "persistence \(options.persistence)",
            "persistence_location \(directory.path)/",
            "autosave_interval 1",
            "max_queued_messages \(options.maxQueuedMessages)",
            "max_queued_bytes 0",
            "max_inflight_messages \(options.maxInflightMessages)",
            "listener \(port) \(host)",
        ]
        if let certificates {
            lines += [
                "cafile \(certificates.caCertificate.path)",
                "certfile \(certificates.serverCertificate.path)",
                "keyfile \(certificates.serverKey.path)",
                "require_certificate \(options.requireClientCertificate)",
            ]
        }
        if options.users.isEmpty {
            lines.append("allow_anonymous \(options.allowAnonymous)")
        } else {
            let passwordFile = directory.appendingPathComponent("passwords")
            _ = FileManager.default.createFile(atPath: passwordFile.path, contents: Data())
            for (user, password) in options.users.sorted(by: { $0.key < $1.key }) {
                try runTool("/usr/bin/mosquitto_passwd", ["-b", passwordFile.path, user, password])
            }
            lines += ["allow_anonymous false", "password_file \(passwordFile.path)"]
        }
        lines += options.extraLines
        try (lines.joined(separator: "\n") + "\n").write(to: configurationFile, atomically: true, encoding: .utf8)
    }

    static func currentUserName() -> String {
        if let entry = getpwuid(geteuid()), let name = entry.pointee.pw_name { return String(cString: name) }
        return "root"
    }
}

/// Runs a helper program and throws with its output when it fails.
func runTool(_ executable: String, _ arguments: [String], in directory: URL? = nil) throws {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    if let directory { process.currentDirectoryURL = directory }
    let output = Pipe()
    process.standardOutput = output
    process.standardError = output
    try process.run()
    let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
        throw BrokerError.toolFailed("\(executable) \(arguments.joined(separator: " ")) failed:\n\(text)")
    }
}

/// Loopback port helpers.
public enum FreePort {
    /// A port on 127.0.0.1 that was free a moment ago (bound to port 0, then released).
    public static func pick() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw BrokerError.toolFailed("socket() failed: errno \(errno)") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(fd, pointer, length) == 0 && getsockname(fd, pointer, &length) == 0
            }
        }
        guard bound else { throw BrokerError.toolFailed("cannot bind a loopback port: errno \(errno)") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// Whether something accepts TCP connections on `host:port`.
    public static func accepts(host: String, port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = inet_addr(host)
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
    }
}
