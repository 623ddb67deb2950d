import SensorFrames
import StreamCore
import Testing
import TributaryMath
import TributaryTestSupport
import TributaryWire

@Suite struct SensorBatchTests {
    static func randomBatch(_ rng: inout SplitMix64) -> (
        bytes: [UInt8], channels: Int, times: [Int64], values: [Float], int16: Bool
    ) {
        let channels = 1 + Int(rng.next() % 9)
        let frames = 1 + Int(rng.next() % 300)
        let base = Int64(bitPattern: rng.next() >> 2)
        let fixed = rng.next() % 2 == 0
        let period = UInt32(1 + rng.next() % 10_000_000)
        var times: [Int64] = []
        var t = base
        for _ in 0..<frames {
            t += fixed ? Int64(period) : Int64(rng.next() % 50_000_000)
            times.append(t)
        }
        if fixed { times = (0..<frames).map { base + Int64($0) * Int64(period) } }
        let int16 = rng.next() % 2 == 0
        let scales = (0..<channels).map { _ in Float(1 + rng.next() % 100) / 1000 }
        let values: [Float] = (0..<(frames * channels)).map { i in
            int16
                ? Float(Int16(truncatingIfNeeded: rng.next())) * scales[i % channels]
                : Float(Double(Int64(bitPattern: rng.next() >> 32)) / 1e6)
        }
        let bytes = SensorBatch.encode(
            sequence: UInt32(truncatingIfNeeded: rng.next()), channels: channels, values: values, base: base,
            timing: fixed ? .fixedPeriod(period) : .timestamps(times), format: int16 ? .int16(scales: scales) : .float32
        )
        return (bytes, channels, times, values, int16)
    }

    @Test("encode → decode is the identity (exact for float32, and for int16 values on the scale grid)")
    func roundTrip() throws {
        var rng = SplitMix64(seed: 11)
        for _ in 0..<500 {
            let batch = Self.randomBatch(&rng)
            let decoded = try batch.bytes.withUnsafeBytes { try SensorBatch.decode($0) }
            #expect(decoded.timestamps == batch.times)
            #expect(decoded.values == batch.values)
            #expect(decoded.header.channels == batch.channels)
        }
    }

    @Test("decoding writes straight into the ring, across its wrap, and int16 halves the bytes")
    func intoRing() throws {
        let ring = FrameRing(capacity: 8, channels: 2, policy: .rejectNewest)
        var producer = ring.makeProducer()
        var consumer = ring.makeConsumer()
        var seen: [Float] = []
        for batch in 0..<5 {
            let values = (0..<10).map { Float(batch * 10 + $0) }
            let bytes = SensorBatch.encode(
                sequence: UInt32(batch), channels: 2, values: values,
                base: Int64(batch) * 100, timing: .fixedPeriod(20))
            let result = try bytes.withUnsafeBytes { try SensorBatch.decode($0, into: &producer, ring: ring) }
            #expect(result.written == 5)
            let span = consumer.acquire(8)
            let (a, b) = ring.segments(span)
            for segment in [a, b] {
                for i in 0..<segment.count {
                    #expect(segment.timestamps[i] == Int64(batch) * 100 + Int64(seen.count / 2 % 5) * 20)
                    seen.append(segment.values[2 * i])
                    seen.append(segment.values[2 * i + 1])
                }
            }
            consumer.release(span.count)
        }
        #expect(seen == (0..<50).map(Float.init))
        let floatSize = SensorBatch.encode(
            sequence: 0, channels: 6, values: Array(repeating: 1, count: 600), base: 0,
            timing: .fixedPeriod(1)
        ).count
        let intSize = SensorBatch.encode(
            sequence: 0, channels: 6, values: Array(repeating: 1, count: 600), base: 0,
            timing: .fixedPeriod(1), format: .int16(scales: Array(repeating: 0.01, count: 6))
        ).count
        #expect(intSize < floatSize * 52 / 100)
    }

    @Test("a batch for the wrong channel count is refused and leaves the ring untouched")
    func channelMismatch() {
        let ring = FrameRing(capacity: 8, channels: 3)
        var producer = ring.makeProducer()
        let bytes = SensorBatch.encode(
            sequence: 1, channels: 2, values: [1, 2, 3, 4], base: 0, timing: .fixedPeriod(1))
        let error = #expect(throws: WireError.self) {
            try bytes.withUnsafeBytes { try SensorBatch.decode($0, into: &producer, ring: ring) }
        }
        #expect(error?.code == .mismatch)
        #expect(ring.count == 0)
    }

    /// Re-seals `bytes` with a correct checksum, so the checks behind the checksum are what rejects it.
    static func resealed(_ bytes: [UInt8]) -> [UInt8] {
        var body = Array(bytes.dropLast(4))
        let crc = CRC32C.checksum(body)
        withUnsafeBytes(of: crc.littleEndian) { body += $0 }
        return body
    }

    @Test("every kind of bad batch is a typed rejection with its reason")
    func rejections() {
        let good = SensorBatch.encode(
            sequence: 1, channels: 2, values: [1, 2, 3, 4], base: 10,
            timing: .timestamps([10, 20]))
        func reason(_ bytes: [UInt8], maxBytes: Int = 1 << 20) -> WireError.Code? {
            do {
                _ = try bytes.withUnsafeBytes { try SensorBatch.decode($0, maxBytes: maxBytes) }
                return nil
            } catch let error as WireError {
                return error.code
            } catch {
                return nil
            }
        }
        #expect(reason(good) == nil)
        var flipped = good
        flipped[30] ^= 1
        #expect(reason(flipped) == .badChecksum)
        var magic = good
        magic[0] = 0x58
        #expect(reason(Self.resealed(magic)) == .badMagic)
        var version = good
        version[4] = 2
        #expect(reason(Self.resealed(version)) == .unsupportedVersion)
        var type = good
        type[5] = 0x20
        #expect(reason(Self.resealed(type)) == .wrongMessageType)
        var flags = good
        flags[6] = 0x80
        #expect(reason(Self.resealed(flags)) == .malformed)
        var noChannels = good
        noChannels[12] = 0
        #expect(reason(Self.resealed(noChannels)) == .countOutOfRange)
        var manyFrames = good
        manyFrames[14] = 3  // claims 3 frames: the deltas and samples no longer add up
        #expect([.lengthMismatch, .truncated].contains(reason(Self.resealed(manyFrames))))
        #expect(reason(Self.resealed(good + [0, 0, 0, 0])) == .lengthMismatch)
        #expect(reason(Array(good.prefix(20))) == .truncated)
        #expect(reason(good, maxBytes: 16) == .tooLarge)
        let nan = SensorBatch.encode(sequence: 1, channels: 1, values: [.nan], base: 0, timing: .fixedPeriod(1))
        #expect(reason(nan) == .nonFinite)
        var zeroScale = SensorBatch.encode(
            sequence: 1, channels: 1, values: [1], base: 0, timing: .fixedPeriod(1),
            format: .int16(scales: [0.5]))
        zeroScale.replaceSubrange(28..<32, with: [0, 0, 0, 0])
        #expect(reason(Self.resealed(zeroScale)) == .valueOutOfRange)
        var overflow = SensorBatch.encode(
            sequence: 1, channels: 1, values: [1, 2], base: .max - 5, timing: .fixedPeriod(1))
        overflow.replaceSubrange(24..<28, with: [0xFF, 0xFF, 0xFF, 0x7F])
        #expect(reason(Self.resealed(overflow)) == .valueOutOfRange)
    }

    @Test("random bytes never crash the decoder, with or without a valid checksum")
    func fuzz() {
        var rng = SplitMix64(seed: 99)
        let ring = FrameRing(capacity: 64, channels: 2)
        var producer = ring.makeProducer()
        let template = SensorBatch.encode(
            sequence: 1, channels: 2, values: [1, 2, 3, 4], base: 10, timing: .timestamps([10, 20]))
        for round in 0..<20_000 {
            var bytes: [UInt8]
            if round % 2 == 0 {
                bytes = (0..<Int(rng.next() % 120)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            } else {
                bytes = template
                for _ in 0..<(1 + rng.next() % 4) {
                    bytes[Int(rng.next() % UInt64(bytes.count - 4))] = UInt8(truncatingIfNeeded: rng.next())
                }
                bytes = Self.resealed(bytes)
            }
            _ = try? bytes.withUnsafeBytes { try SensorBatch.decode($0, into: &producer, ring: ring) }
        }
        #expect(ring.count <= 64)
    }
}

@Suite struct SequenceTrackerTests {
    @Test("in order, gaps, duplicates, late arrivals, wrap-around and restarts are told apart")
    func verdicts() {
        var tracker = SequenceTracker()
        #expect(tracker.observe(1010) == .inOrder)
        #expect(tracker.observe(1011) == .inOrder)
        #expect(tracker.observe(1015) == .gap(missing: 3))
        #expect(tracker.observe(1013) == .late)
        #expect(tracker.observe(1013) == .duplicate)
        #expect(tracker.observe(1015) == .duplicate)
        #expect(tracker.observe(1016) == .inOrder)
        #expect(tracker.observe(900) == .late)  // too old to remember: counted late, not a restart
        #expect(tracker.observe(0) == .restart)  // far behind and near zero: the device rebooted
        #expect(tracker.observe(1) == .inOrder)
        #expect(tracker.missing == 3 && tracker.duplicates == 2 && tracker.late == 2 && tracker.restarts == 1)
        var wrapping = SequenceTracker()
        #expect(wrapping.observe(.max - 1) == .inOrder)
        #expect(wrapping.observe(.max) == .inOrder)
        #expect(wrapping.observe(0) == .inOrder)
        #expect(wrapping.observe(2) == .gap(missing: 1))
        #expect(wrapping.observe(.max) == .duplicate)
    }
}

@Suite struct SensorIngestTests {
    func batch(_ seq: UInt32, _ value: Float, channels: Int = 1) -> [UInt8] {
        SensorBatch.encode(
            sequence: seq, channels: channels, values: [Float](repeating: value, count: 2 * channels),
            base: Int64(seq) * 10, timing: .fixedPeriod(5))
    }

    @Test("ingest writes good batches, drops duplicates and late ones, and counts rejections by reason")
    func ingest() {
        let ring = FrameRing(capacity: 64, channels: 1)
        let seen = Locked<[String]>([])
        var ingest = SensorIngest(ring: ring) { error, total in seen.withLock { $0.append("\(error.code) \(total)") } }
        let inputs = [
            batch(1, 1), batch(2, 2), batch(2, 2), batch(4, 4), batch(3, 3), [0xDE, 0xAD], batch(5, 5),
            batch(6, 6, channels: 2),
        ]
        for bytes in inputs {
            bytes.withUnsafeBytes { _ = ingest.ingest($0) }
        }
        let counters = ingest.counters.snapshot
        #expect(counters.acceptedBatches == 4 && counters.acceptedFrames == 8)
        #expect(counters.duplicates == 1 && counters.late == 1 && counters.missing == 1)
        #expect(counters.rejected == ["truncated": 1, "mismatch": 1] && counters.rejectedTotal == 2)
        #expect(seen.value == ["truncated 1", "mismatch 2"])
        #expect(ring.count == 8)
        #expect(counters.metrics["ingest_rejected_mismatch"] == 1 && counters.metrics["ingest_frames"] == 8)
    }

    @Test("an oversized batch is too_large before it is parsed, and leaves the ring untouched")
    func oversized() {
        let ring = FrameRing(capacity: 64, channels: 1)
        var ingest = SensorIngest(ring: ring, maxBytes: 40)
        let big = SensorBatch.encode(
            sequence: 1, channels: 1, values: [Float](repeating: 1, count: 32), base: 0, timing: .fixedPeriod(1))
        let error = big.withUnsafeBytes { ingest.ingest($0) }
        #expect(error?.code == .tooLarge && ingest.counters.snapshot.rejected == ["too_large": 1] && ring.count == 0)
    }

    @Test("ring drops are in the counters: drop-oldest discards, reject-newest refuses")
    func ringDrops() {
        for policy in [FullRingPolicy.dropOldest, .rejectNewest] {
            let ring = FrameRing(capacity: 8, channels: 1, policy: policy)
            var ingest = SensorIngest(ring: ring)
            for seq in 1...6 { batch(UInt32(seq), 1).withUnsafeBytes { _ = ingest.ingest($0) } }
            let counters = ingest.counters.snapshot
            #expect(counters.ringDropped + counters.ringRejected == 4, "\(policy)")
            #expect(policy == .dropOldest ? counters.ringDropped == 4 : counters.ringRejected == 4)
        }
    }

    @Test("decoded frames: NaN and Inf frames are skipped and counted, late frames dropped, a full ring waited on")
    func decodedFrames() {
        let ring = FrameRing(capacity: 4, channels: 2, policy: .rejectNewest)
        var consumer = ring.makeConsumer()
        var ingest = SensorIngest(ring: ring)
        let timestamps: [Int64] = [0, 1, 2, 1, 3, 4, 5, 6]
        let values: [Float] = [0, 0, .nan, 1, 2, 2, 9, 9, 3, .infinity, 4, 4, 5, 5, 6, 6]
        var drained: [Int64] = []
        let written = timestamps.withUnsafeBufferPointer { t in
            values.withUnsafeBufferPointer { v in
                ingest.ingest(timestamps: t, values: v) {
                    let span = consumer.acquire(4)
                    let (a, b) = ring.segments(span)
                    drained += Array(a.timestamps) + Array(b.timestamps)
                    consumer.release(span.count)
                    return true
                }
            }
        }
        let span = consumer.acquire(4)
        let (a, b) = ring.segments(span)
        drained += Array(a.timestamps) + Array(b.timestamps)
        #expect(written == 5 && drained == [0, 2, 4, 5, 6])
        let counters = ingest.counters.snapshot
        #expect(counters.nonFiniteFrames == 2 && counters.late == 1 && counters.acceptedFrames == 5)
        #expect(counters.ringRejected == 0, "waiting made room: nothing refused")
    }
}
