import Synchronization
import SystemSupport
import Testing

@Suite struct InboxTests {
    @Test("items come out in order, in batches of at most max; a waiting take wakes at once for an item")
    func order() async {
        let inbox = Inbox<Int>()
        for i in 0..<10 { #expect(inbox.put(i)) }
        #expect(await inbox.take(timeout: .seconds(1), max: 4) == [0, 1, 2, 3])
        #expect(inbox.takeNow() == [4, 5, 6, 7, 8, 9])
        #expect(inbox.takeNow() == nil)
        let waiting = Task { await inbox.take(timeout: .seconds(60)) }
        #expect(inbox.put(42))
        #expect(await waiting.value == [42], "woken by the item, long before the time-out")
    }

    @Test("full by count or bytes: a put waits for room, then is refused and counted; a take makes room")
    func bounded() async {
        let inbox = Inbox<Int>(capacity: 2, maxBytes: 100)
        #expect(inbox.put(1, bytes: 10) && inbox.put(2, bytes: 10))
        #expect(!inbox.put(3, bytes: 10), "no room, no wait: refused")
        #expect(!inbox.put(4, bytes: 10, waitForRoom: .milliseconds(20)), "no room within the wait: refused")
        #expect(inbox.shed == 2)
        _ = inbox.takeNow(max: 1)
        #expect(inbox.put(5, bytes: 90))
        #expect(!inbox.put(6, bytes: 1), "full by count")
        _ = inbox.takeNow()
        // A put waiting for room gets it when the consumer takes.
        #expect(inbox.put(7, bytes: 95))
        let producer = Task.detached { inbox.put(8, bytes: 50, waitForRoom: .seconds(30)) }
        while inbox.takeNow() == nil {}
        #expect(await producer.value, "the waiting put went in once room was made")
        #expect(inbox.takeNow() == [8])
    }

    @Test("closed: puts are refused (not counted as shed), what was inside can still be taken, takes return")
    func closing() async {
        let inbox = Inbox<String>()
        inbox.put("a")
        inbox.close()
        #expect(!inbox.put("b") && inbox.shed == 0 && inbox.isClosed)
        #expect(await inbox.take(timeout: .seconds(1)) == ["a"])
        #expect(await inbox.take(timeout: .seconds(60)) == [], "a closed, empty inbox answers at once")
    }
}

@Suite struct WorkerThreadTests {
    @Test("every job runs and returns its result to its caller; errors come back too")
    func jobs() async throws {
        struct Failure: Error {}
        let worker = WorkerThread()
        let order = Order()
        let a = Task { try await worker.run { order.append(1) } }
        let b = Task { try await worker.run { order.append(2) } }
        try await a.value
        try await b.value
        #expect(order.values.sorted() == [1, 2])
        #expect(try await worker.run { 6 * 7 } == 42)
        await #expect(throws: Failure.self) { try await worker.run { throw Failure() } }
        worker.stop()
    }
}

final class Order: Sendable {
    let log = Mutex<[Int]>([])
    func append(_ value: Int) { log.withLock { $0.append(value) } }
    var values: [Int] { log.withLock { $0 } }
}
