import StreamCore
import Testing

@Suite struct RingLayoutTests {
    /// Every (capacity, start offset, fill, batch size) combination for small rings: contents, order, spans.
    @Test("every wrap-around layout of small rings reads back what was written", arguments: [1, 2, 4, 8, 16])
    func everyLayout(capacity: Int) {
        for offset in 0..<(2 * capacity) {
            for fill in 0...capacity {
                for batch in 1...capacity {
                    let ring = SPSCRing<UInt32>(capacity: capacity, policy: .rejectNewest)
                    var producer = ring.makeProducer()
                    var consumer = ring.makeConsumer()
                    // Move the positions to `offset` so the run starts anywhere in the buffer.
                    for n in 0..<offset {
                        #expect(pushOne(&producer, UInt32(n)))
                        #expect(consumer.pop() == UInt32(n))
                    }
                    var next: UInt32 = 1000
                    var written = 0
                    while written < fill {
                        let span = producer.reserve(min(batch, fill - written))
                        #expect(span.count == min(batch, fill - written))
                        #expect(span.first.lowerBound == (offset + written) & (capacity - 1))
                        #expect(span.second.isEmpty || span.second.lowerBound == 0)
                        let (a, b) = ring.segments(span)
                        for i in a.indices { a[i] = next; next += 1 }
                        for i in b.indices { b[i] = next; next += 1 }
                        producer.commit(span.count)
                        written += span.count
                    }
                    #expect(ring.count == fill)
                    var expected: UInt32 = 1000
                    var read = 0
                    while read < fill {
                        let span = consumer.acquire(batch)
                        let (a, b) = ring.segments(span)
                        for value in a { #expect(value == expected); expected += 1 }
                        for value in b { #expect(value == expected); expected += 1 }
                        consumer.release(span.count)
                        read += span.count
                        #expect(span.count > 0)
                    }
                    #expect(consumer.pop() == nil)
                    #expect(ring.counters.total == 0)
                }
            }
        }
    }

    @Test("frame rings keep time stamps and channel values together across the wrap")
    func frames() {
        let ring = FrameRing(capacity: 4, channels: 3, policy: .rejectNewest)
        var producer = ring.makeProducer()
        var consumer = ring.makeConsumer()
        for round in 0..<5 {
            let span = producer.reserve(3)
            #expect(span.count == 3)
            let (a, b) = ring.segments(span)
            var frame = 0
            for segment in [a, b] {
                for i in 0..<segment.count {
                    let t = Int64(round * 10 + frame)
                    segment.timestamps[i] = t
                    for c in 0..<3 { segment.values[i * 3 + c] = Float(t) + Float(c) / 10 }
                    frame += 1
                }
            }
            producer.commit(3)
            let read = consumer.acquire(8)
            #expect(read.count == 3)
            let (x, y) = ring.segments(read)
            var seen: [Int64] = []
            for segment in [x, y] {
                for i in 0..<segment.count {
                    let t = segment.timestamps[i]
                    seen.append(t)
                    #expect(segment.values[i * 3 + 2] == Float(t) + 0.2)
                }
            }
            #expect(seen == (0..<3).map { Int64(round * 10 + $0) })
            consumer.release(read.count)
        }
        let values: [Float] = [1, 2, 3]
        let pushed = values.withUnsafeBufferPointer { producer.push(timestamp: 99, values: $0) }
        #expect(pushed)
        #expect(ring.count == 1)
    }
}
