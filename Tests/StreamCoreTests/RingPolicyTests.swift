import StreamCore
import Testing
import TributaryTestSupport

@Suite struct RingPolicyTests {
    @Test("reject-newest keeps the oldest, refuses the rest and counts every refusal")
    func rejectNewest() {
        let ring = SPSCRing<Int>(capacity: 4, policy: .rejectNewest)
        var producer = ring.makeProducer()
        var consumer = ring.makeConsumer()
        let accepted = (0..<10).map { producer.push($0) }
        #expect(accepted == [true, true, true, true] + Array(repeating: false, count: 6))
        let batch = [10, 11, 12]
        #expect(batch.withUnsafeBufferPointer { producer.push(contentsOf: $0) } == 0)
        #expect(ring.counters == RingCounters(droppedOldest: 0, rejectedNewest: 9))
        #expect((0..<4).map { _ in consumer.pop() } == [0, 1, 2, 3])
    }

    @Test("drop-oldest keeps the newest and counts what it discarded")
    func dropOldest() {
        let ring = SPSCRing<Int>(capacity: 4, policy: .dropOldest)
        var producer = ring.makeProducer()
        var consumer = ring.makeConsumer()
        for n in 0..<10 { #expect(pushOne(&producer, n)) }
        #expect(ring.counters == RingCounters(droppedOldest: 6, rejectedNewest: 0))
        var out: [Int] = []
        while let n = consumer.pop() { out.append(n) }
        #expect(out == [6, 7, 8, 9])
        // A batch larger than the free space drops just enough old elements.
        for n in 10..<13 { producer.push(n) }
        let batch = [20, 21, 22]
        #expect(batch.withUnsafeBufferPointer { producer.push(contentsOf: $0) } == 3)
        #expect(ring.counters.droppedOldest == 8)
        while let n = consumer.pop() { out.append(n) }
        #expect(out.suffix(4) == [12, 20, 21, 22])
    }

    @Test("drop-oldest never overwrites elements the consumer is reading: the newest is refused instead")
    func dropOldestWhileReading() {
        let ring = SPSCRing<Int>(capacity: 2, policy: .dropOldest)
        var producer = ring.makeProducer()
        var consumer = ring.makeConsumer()
        producer.push(1)
        producer.push(2)
        let span = consumer.acquire(2)  // the consumer is now reading both slots
        #expect(!pushOne(&producer, 3))
        #expect(ring.counters == RingCounters(droppedOldest: 0, rejectedNewest: 1))
        let (a, _) = ring.segments(span)
        #expect(Array(a) == [1, 2])
        consumer.release(1)
        #expect(pushOne(&producer, 4))
        #expect(consumer.pop() == 2)
        #expect(consumer.pop() == 4)
    }

    @Test("a waiting producer gets space when the consumer frees it, or gives up at the timeout")
    func waitWithTimeout() {
        let ring = SPSCRing<Int>(capacity: 4, policy: .rejectNewest)
        var producer = ring.makeProducer()
        var consumer = ring.makeConsumer()
        for n in 0..<4 { producer.push(n) }
        let clock = ManualClock()
        var idles = 0
        let span = producer.reserve(2, timeout: .seconds(1), clock: clock) {
            idles += 1
            clock.advance(by: .milliseconds(100))
            if idles == 3 { _ = consumer.pop(); _ = consumer.pop() }
        }
        #expect(span.count == 2)
        #expect(idles == 3)
        producer.commit(0)
        idles = 0
        let none = producer.reserve(3, timeout: .seconds(1), clock: clock) {
            idles += 1
            clock.advance(by: .milliseconds(100))
        }
        #expect(none.count == 2)
        #expect(idles == 10)
        #expect(ring.counters.total == 0)
    }
}

/// `producer.push` as a plain function, so `#expect` can take its result.
func pushOne<E: BitwiseCopyable>(_ producer: inout SPSCRing<E>.Producer, _ value: E) -> Bool {
    producer.push(value)
}
