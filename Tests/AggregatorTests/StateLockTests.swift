import AggregatorService
import Glibc
import Testing

/// The state directory's lock without a process around it: a second holder is refused by name until the first
/// lets go.
@Suite struct StateLockTests {
    @Test("a second lock on a held directory is refused as locked, naming the holder's PID; released, it is taken")
    func secondHolder() throws {
        let directory = temporaryDirectory()
        var first: StateLock? = try StateLock(directory: directory)
        #expect {
            try StateLock(directory: directory)
        } throws: { error in
            guard let error = error as? StateError else { return false }
            return error.code == .locked && error.message.contains("(PID \(getpid()))")
        }
        _ = first
        first = nil
        #expect(throws: Never.self) { _ = try StateLock(directory: directory) }
    }

    @Test("a lock file holding garbage instead of a PID still locks, and the refusal says so without a PID")
    func garbageLockFile() throws {
        let directory = temporaryDirectory()
        let holder = try StateLock(directory: directory)
        // Someone scribbled over the file: the lock is the kernel's, not the file's content.
        let fd = open(holder.path, O_WRONLY | O_TRUNC)
        _ = "not a pid".withCString { write(fd, $0, 9) }
        close(fd)
        #expect {
            try StateLock(directory: directory)
        } throws: { error in
            guard let error = error as? StateError else { return false }
            return error.code == .locked && !error.message.contains("PID")
        }
        _ = holder
    }
}
