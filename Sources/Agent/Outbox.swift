import SystemSupport

/// Updates waiting to be acknowledged, as files in `{state}/outbox/` (`{round}.tupd`), written atomically before
/// they are first published: an update built while the link is down, or not acknowledged before a crash, leaves
/// when the link is back. A round's file goes when the aggregator answers for it (accepted, duplicate or
/// rejected) or when a later round makes it useless. Every failure is thrown: the caller counts and reports it.
struct Outbox {
    let directory: String

    init(directory: String) throws(SystemError) {
        try FileIO.makeDirectories(directory)
        self.directory = directory
    }

    func path(_ round: UInt32) -> String { "\(directory)/\(round).tupd" }

    /// Keeps an update durably (fsync'd) before it is first sent.
    func put(_ payload: [UInt8], round: UInt32) throws(SystemError) { try FileIO.replace(path(round), with: payload) }

    /// Forgets a round's update.
    func remove(_ round: UInt32) throws(SystemError) { try FileIO.remove(path(round)) }

    /// Pending rounds, oldest first.
    func rounds() throws(SystemError) -> [UInt32] {
        try FileIO.names(in: directory).compactMap { name in
            name.hasSuffix(".tupd") ? UInt32(name.dropLast(5)) : nil
        }.sorted()
    }

    /// A pending round's update.
    func payload(_ round: UInt32) throws(SystemError) -> [UInt8] { try FileIO.readAll(path(round)) }
}
