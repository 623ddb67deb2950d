import Glibc
import SystemSupport

/// The state directory's exclusive lock: an aggregator holds `{state_dir}/aggregator.lock` (`flock`) for as long
/// as its state is open, so a second one on the same directory cannot run, publish rounds or write history. The
/// file holds the holder's PID, for the error the second one reports. The kernel releases the lock when the
/// holder's process ends, however it ends (`kill -9` too); a leftover file is harmless.
public final class StateLock: Sendable {
    /// The lock file.
    public let path: String
    let descriptor: Int32

    /// Takes the lock, or throws ``StateError`` (`locked`) naming the holder's PID. (A hot standby tries again
    /// until it gets it: ``AggregatorService`` with `standby: true`.)
    public init(directory: String) throws(StateError) {
        let path = directory + "/aggregator.lock"
        self.path = path
        let opened: Int32
        do { opened = try system("open", path) { open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644) } } catch {
            throw StateError(.file, "cannot open the lock file \(path)", underlying: error)
        }
        descriptor = opened
        do {
            try system("flock", path) { flock(opened, LOCK_EX | LOCK_NB) }
        } catch {
            let holder = Self.holder(opened)
            close(opened)
            if error.code == .busy {
                throw StateError(
                    .locked,
                    "the state directory \(directory) is in use by another aggregator\(holder.map { " (PID \($0))" } ?? ""); stop it, use another state_dir, or start this one with --standby to take over when it stops"
                )
            }
            throw StateError(.file, "cannot lock \(path)", underlying: error)
        }
        let pid = Array("\(getpid())\n".utf8)
        _ = ftruncate(opened, 0)
        _ = pid.withUnsafeBytes { pwrite(opened, $0.baseAddress, $0.count, 0) }
    }

    deinit { close(descriptor) }

    /// The PID the lock file names, if it names one.
    static func holder(_ descriptor: Int32) -> Int32? {
        var buffer = [UInt8](repeating: 0, count: 32)
        let count = buffer.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, $0.count, 0) }
        guard count > 0 else { return nil }
        let text = String(decoding: buffer[0..<count], as: UTF8.self)
        return Int32(text.split(separator: "\n").first ?? "")
    }
}
