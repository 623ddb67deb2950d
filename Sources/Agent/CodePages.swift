import Glibc
import Synchronization
import SystemSupport

/// Keeps the agent's resident code to what it runs.
///
/// When a process touches a page of a file-backed mapping (its code, the Swift runtime's), Linux maps the
/// cached pages around it too ("fault-around", 64 KiB by default), and a program that runs a little code from
/// many places ends up with most of its libraries resident. Start-up runs code that is never needed again
/// (configuration, connection, first task), so after it the agent drops the current pages of its read-only file
/// mappings (advised random, so no read-ahead; fault-around itself cannot be turned off per process): what it
/// keeps using faults back in, with its neighbours. Only mappings that cannot be written and hold no private
/// (modified) page are touched, so nothing but clean copies of file pages is ever dropped.
enum CodePages {
    /// What ``trim()`` did.
    struct Report: Sendable, Hashable {
        /// Mappings advised and dropped.
        var mappings = 0
        /// Resident bytes of those mappings before.
        var bytes = 0
    }

    /// Advises and drops the clean read-only file mappings of this process (see the type's documentation).
    static func trim() -> Report {
        var report = Report()
        guard let text = (try? FileIO.readAll("/proc/self/smaps")).map({ String(decoding: $0, as: UTF8.self) }) else {
            return report
        }
        var current: (start: UInt, end: UInt, eligible: Bool, rss: Int, dirty: Int)?
        func finish() {
            guard let m = current, m.eligible, m.dirty == 0, m.end > m.start else { return }
            guard let pointer = UnsafeMutableRawPointer(bitPattern: m.start) else { return }
            let length = Int(m.end - m.start)
            if madvise(pointer, length, MADV_RANDOM) == 0, madvise(pointer, length, MADV_DONTNEED) == 0 {
                report.mappings += 1
                report.bytes += m.rss
            }
        }
        for line in text.split(separator: "\n", omittingEmptySubsequences: true) {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            if let range = fields.first, range.contains("-"), fields.count >= 5, !range.hasSuffix(":") {
                finish()
                let bounds = range.split(separator: "-")
                let permissions = fields[1]
                // A file mapping (a path), readable, never writable, private.
                let path = fields.count >= 6 ? fields[5] : ""
                let eligible = path.hasPrefix("/") && permissions.hasPrefix("r") && permissions.dropFirst().first == "-"
                current = (
                    UInt(bounds[0], radix: 16) ?? 0, UInt(bounds.count > 1 ? bounds[1] : "", radix: 16) ?? 0,
                    eligible, 0, 0
                )
            } else if fields.count >= 2, let value = Int(fields[1]) {
                switch fields[0] {
                case "Rss:": current?.rss = value * 1_024
                case "Private_Dirty:", "Anonymous:", "Swap:": current?.dirty += value
                default: break
                }
            }
        }
        finish()
        return report
    }

    /// The early trims of a process, each done once (more agents of one `fleet` process do not repeat them).
    enum Moment: Hashable, Sendable {
        /// Before the first connection: what start-up touched (the dynamic loader's work, configuration, keys)
        /// is dropped before the TLS handshake touches OpenSSL's code.
        case beforeConnecting
        /// Once connected: the handshake's code is dropped before the first windows and round touch theirs.
        case connected
    }

    static let done = Mutex<Set<Moment>>([])

    /// Trims at `moment` the first time a process reaches it, so the code of start-up, of the TLS handshake and
    /// of the work that follows is never resident all at once; nil if it was done already.
    static func trim(once moment: Moment) -> Report? {
        guard done.withLock({ $0.insert(moment).inserted }) else { return nil }
        return trim()
    }
}
