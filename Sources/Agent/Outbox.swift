import Glibc
import ServiceSupport

/// Updates waiting to be acknowledged, as files in `{state}/outbox/` (`{round}.tupd`), written atomically before
/// they are first published: an update built while the link is down, or not acknowledged before a crash, leaves
/// when the link is back. A round's file goes when the aggregator answers for it (accepted, duplicate or
/// rejected) or when a later round makes it useless.
struct Outbox {
    let directory: String

    init?(directory: String) {
        guard makeDirectories(directory) else { return nil }
        self.directory = directory
    }

    func path(_ round: UInt32) -> String { "\(directory)/\(round).tupd" }

    func put(_ payload: [UInt8], round: UInt32) -> Bool { (try? FileIO.replace(path(round), with: payload)) != nil }

    func remove(_ round: UInt32) { unlink(path(round)) }

    /// Pending rounds, oldest first.
    func rounds() -> [UInt32] {
        guard let dir = opendir(directory) else { return [] }
        defer { closedir(dir) }
        var result: [UInt32] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(cString: raw.bindMemory(to: CChar.self).baseAddress!)
            }
            if name.hasSuffix(".tupd"), let round = UInt32(name.dropLast(5)) { result.append(round) }
        }
        return result.sorted()
    }

    func payload(_ round: UInt32) -> [UInt8]? { try? FileIO.readAll(path(round)) }
}
