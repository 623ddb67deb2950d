public import Foundation
import Glibc
import SystemSupport

/// A real `mosquitto` broker for tests and benchmarks: started on a free loopback port with a generated
/// configuration in a private temporary folder, stoppable and restartable on the same port, and always cleaned
/// up (``stop()``, or the deinitializer as a last resort).
public final class MosquittoBroker: @unchecked Sendable {
    // @unchecked: mutable state (`process`) is guarded by `lock`.

    /// What to put in the generated configuration.
    public struct Options: Sendable {
        /// The configuration file to start from; its limits are kept. Defaults to `Configs/mosquitto/dev.conf`.
        public var template = Repository.mosquittoConfig("dev.conf")
        /// Allow clients without credentials.
        public var allowAnonymous = true
        /// Users for a password file; when non-empty, anonymous access is off.
        public var users: [String: String] = [:]
        /// An ACL file to enforce.
        public var aclFile: URL?
        /// Serve TLS with generated certificates instead of plain TCP.
        public var tls = false
        /// With TLS: require clients to present a certificate signed by the test CA.
        public var requireClientCertificate = false
        /// Keep sessions and retained messages across restarts.
        public var persistence = true
        /// Seconds between saves of the persistence file (Mosquitto also saves when stopped with SIGTERM, never
        /// when killed): a large value makes a `kill()` restore an old snapshot, as a shipped broker does.
        public var autosaveInterval = 1
        /// Override the template's per-client queue limit (Mosquitto's own default, 1000, drops silently).
        public var maxQueuedMessages: Int?
        /// Override the template's in-flight window towards subscribers.
        public var maxInflightMessages: Int?
        /// Extra configuration lines, appended verbatim.
        public var extraLines: [String] = []
        /// A complete configuration to run as it is (a fleet's, from `tributary provision`): only its listener
        /// (moved to the rig's loopback port), user, log and persistence folder are replaced; the other options
        /// are ignored.
        public var provisioned: URL?

        /// Defaults: dev.conf, anonymous, plain TCP, persistence on.
        public init() {}
    }

    /// The loopback address the broker listens on.
    public let host = "127.0.0.1"
    /// The port the broker listens on; stays the same across restarts.
    public let port: Int
    /// The private folder holding configuration, logs, persistence and certificates.
    public let directory: URL
    /// Certificates, when the broker serves TLS.
    public let certificates: TestCertificates?
    /// The options it was started with.
    public let options: Options

    private let lock = NSLock()
    private var process: ChildProcess?

    /// Starts a broker and waits until it accepts connections. The free port it picks can be taken by another
    /// program (another test's broker) before Mosquitto binds it: then it tries another port, up to three times.
    public static func start(_ options: Options = Options()) async throws -> MosquittoBroker {
        var attempt = 0
        while true {
            attempt += 1
            let broker = try MosquittoBroker(options: options)
            do {
                try await broker.launch()
                return broker
            } catch BrokerError.exited(_, let log) where attempt < 3 {
                let output =
                    (try? String(contentsOf: broker.directory.appendingPathComponent("stdout.log"), encoding: .utf8))
                    ?? ""
                guard (log + output).contains("in use") else { throw BrokerError.exited(status: -1, log: log + output) }
            }
        }
    }

    private init(options: Options) throws {
        self.options = options
        self.port = try FreePort.pick()
        let base = URL(fileURLWithPath: NSTemporaryDirectory(), isDirectory: true)
        self.directory = base.appendingPathComponent("tributary-mosquitto-\(getpid())-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        self.certificates = options.tls ? try TestCertificates.generate(in: directory) : nil
        try writeConfiguration()
    }

    deinit {
        // ChildProcess's deinitializer kills and reaps a process still running.
        process = nil
        try? FileManager.default.removeItem(at: directory)
    }

    /// The path of the generated configuration file.
    public var configurationFile: URL { directory.appendingPathComponent("mosquitto.conf") }
    /// The broker's log file.
    public var logFile: URL { directory.appendingPathComponent("mosquitto.log") }

    /// The broker's log so far, for failure messages.
    public func log() -> String {
        (try? String(contentsOf: logFile, encoding: .utf8)) ?? "(no log)"
    }

    /// The broker's process id while it runs (benchmarks read its CPU time).
    public var pid: pid_t? { lock.withLock { process?.pid } }

    /// Whether the broker process is running.
    public var isRunning: Bool { lock.withLock { process?.isRunning ?? false } }

    /// Stops the broker with SIGTERM (it saves persistence) and waits for it to exit.
    public func stop() async {
        guard let process = lock.withLock({ self.process }) else { return }
        await process.terminate()
        lock.withLock { self.process = nil }
    }

    /// Kills the broker with SIGKILL: no persistence is saved.
    public func kill() async {
        guard let process = lock.withLock({ self.process }) else { return }
        process.send(SIGKILL)
        await process.waitForExit(timeout: .seconds(10))
        lock.withLock { self.process = nil }
    }

    /// Stops the broker (SIGTERM) and starts it again on the same port with the same configuration.
    public func restart() async throws {
        await stop()
        try await launch()
    }

    /// Starts the broker process again after ``stop()`` or ``kill()``.
    public func launch() async throws {
        let process = try ChildProcess(
            try Self.mosquittoExecutable().path, ["-c", configurationFile.path],
            standardOutput: directory.appendingPathComponent("stdout.log").path)
        lock.withLock { self.process = process }
        // The deadline is generous and the port is tried once more after it: with two cores and the test
        // runner's cooperative threads busy with CPU-heavy tests, this task can be starved for many seconds
        // while the broker has long been listening.
        let deadline = ContinuousClock.now + .seconds(30)
        repeat {
            if !process.isRunning {
                throw BrokerError.exited(status: process.terminationStatus ?? -1, log: log())
            }
            // It must be this process that listens there, not another program that took the port first.
            if FreePort.accepts(host: host, port: port) && listens(process.pid) { return }
            try await Task.sleep(for: .milliseconds(20))
        } while ContinuousClock.now < deadline
        if process.isRunning && FreePort.accepts(host: host, port: port) && listens(process.pid) { return }
        throw BrokerError.notListening(port: port, log: log())
    }

    /// Whether process `pid` holds the socket listening on ``port`` (its inode in `/proc/net/tcp`, in state 0A,
    /// among the process's descriptors). True where `/proc` cannot tell.
    func listens(_ pid: pid_t) -> Bool {
        // Read to the end (a /proc table comes a page per read; Foundation's reader may stop at the first).
        guard let bytes = try? FileIO.readAll("/proc/net/tcp") else { return true }
        let table = String(decoding: bytes, as: UTF8.self)
        let suffix = ":" + String(port, radix: 16, uppercase: true).leftPadded(to: 4)
        var inodes: Set<String> = []
        for line in table.split(separator: "\n").dropFirst() {
            let fields = line.split(separator: " ")
            guard fields.count > 9, fields[1].hasSuffix(suffix), fields[3] == "0A" else { continue }
            inodes.insert(String(fields[9]))
        }
        let folder = "/proc/\(pid)/fd"
        guard let descriptors = try? FileManager.default.contentsOfDirectory(atPath: folder) else { return true }
        return descriptors.contains { name in
            guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: folder + "/" + name),
                target.hasPrefix("socket:[")
            else { return false }
            return inodes.contains(String(target.dropFirst(8).dropLast()))
        }
    }

    static func mosquittoExecutable() throws -> URL {
        for path in ["/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto", "/usr/bin/mosquitto"]
        where FileManager.default.isExecutableFile(atPath: path) {
            return URL(fileURLWithPath: path)
        }
        throw BrokerError.notInstalled
    }
}

/// Why the test broker could not be used.
public enum BrokerError: Error, CustomStringConvertible {
    /// `mosquitto` is not installed (run `tools/bootstrap`).
    case notInstalled
    /// The broker exited during start-up.
    case exited(status: Int32, log: String)
    /// The broker did not accept connections in time.
    case notListening(port: Int, log: String)
    /// A helper tool (openssl, mosquitto_passwd) failed.
    case toolFailed(String)

    /// A readable explanation including the broker's log.
    public var description: String {
        switch self {
        case .notInstalled: "mosquitto is not installed; run tools/bootstrap"
        case .exited(let status, let log): "mosquitto exited with status \(status) during start-up:\n\(log)"
        case .notListening(let port, let log): "mosquitto did not listen on port \(port) in time:\n\(log)"
        case .toolFailed(let what): what
        }
    }
}

extension String {
    /// The string with leading zeros up to `width` characters.
    fileprivate func leftPadded(to width: Int) -> String {
        String(repeating: "0", count: Swift.max(0, width - count)) + self
    }
}
