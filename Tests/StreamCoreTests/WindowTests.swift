import StreamCore
import Testing

@Suite struct WindowTests {
    /// A ring holding `frames` frames of `channels` channels: value = frame index + channel / 10, time = index × step.
    static func filledRing(frames: Int, channels: Int = 2, capacity: Int = 64, step: Int64 = 10)
        -> (FrameRing, FrameRing.Consumer)
    {
        let ring = FrameRing(capacity: capacity, channels: channels, policy: .rejectNewest)
        var producer = ring.makeProducer()
        for i in 0..<frames {
            let values = (0..<channels).map { Float(i) + Float($0) / 10 }
            _ = values.withUnsafeBufferPointer { producer.push(timestamp: Int64(i) * step, values: $0) }
        }
        return (ring, ring.makeConsumer())
    }

    static func firstValues(_ window: Windower.Window, channels: Int) -> [Float] {
        var out: [Float] = []
        for segment in [window.segments.0, window.segments.1] {
            for i in 0..<segment.count { out.append(segment.values[i * channels]) }
        }
        return out
    }

    @Test("sliding frame windows overlap in place, tumbling ones do not, gapped ones skip frames")
    func frameWindows() throws {
        for (length, hop, expectedStarts) in [(4, 2, [0, 2, 4, 6]), (4, 4, [0, 4]), (3, 5, [0, 5])] {
            var (ring, consumer) = Self.filledRing(frames: 10)
            var windower = Windower(spec: try WindowSpec(length: .frames(length), hop: .frames(hop)))
            var starts: [Float] = []
            windower.drain(&consumer, ring: ring) { window in
                let values = Self.firstValues(window, channels: 2)
                #expect(values.count == length)
                #expect(values == (0..<length).map { values[0] + Float($0) })
                #expect(window.start == Int64(values[0]) * 10)
                starts.append(values[0])
            }
            #expect(starts == expectedStarts.map(Float.init), "length \(length) hop \(hop)")
        }
    }

    @Test("windows keep coming as frames arrive, across the ring's wrap")
    func incremental() throws {
        let ring = FrameRing(capacity: 8, channels: 1, policy: .rejectNewest)
        var producer = ring.makeProducer()
        var consumer = ring.makeConsumer()
        var windower = Windower(spec: try .sliding(frames: 6, hop: 3))
        var windows: [[Float]] = []
        for i in 0..<30 {
            let value: [Float] = [Float(i)]
            _ = value.withUnsafeBufferPointer { producer.push(timestamp: Int64(i), values: $0) }
            windower.drain(&consumer, ring: ring) { windows.append(Self.firstValues($0, channels: 1)) }
        }
        #expect(windows.count == 9)
        #expect(windows.last == (24..<30).map(Float.init))
        #expect(ring.counters.total == 0)
    }

    @Test("time windows align to the hop, skip gaps in one step, and wait until they are complete")
    func timeWindows() throws {
        let ring = FrameRing(capacity: 64, channels: 1, policy: .rejectNewest)
        var producer = ring.makeProducer()
        var consumer = ring.makeConsumer()
        // Frames every 10 ns from t=5 to t=95, then a gap, then t=1000...1050.
        let times: [Int64] =
            Array(stride(from: 5, through: 95, by: 10)) + Array(stride(from: 1000, through: 1050, by: 10))
        for t in times {
            let value: [Float] = [Float(t)]
            _ = value.withUnsafeBufferPointer { producer.push(timestamp: t, values: $0) }
        }
        var windower = Windower(spec: try WindowSpec(length: .time(40), hop: .time(40)))
        var seen: [(Int64, [Float])] = []
        windower.drain(&consumer, ring: ring) { seen.append(($0.start, Self.firstValues($0, channels: 1))) }
        #expect(seen.map(\.0) == [0, 40, 80, 1000])
        #expect(seen[0].1 == [5, 15, 25, 35])
        #expect(seen[2].1 == [85, 95])
        #expect(seen[3].1 == [1000, 1010, 1020, 1030])
        #expect(windower.empty == (1000 - 120) / 40)
        // The window starting at 1040 is not complete until a frame at or after 1080 arrives.
        let late: [Float] = [1080]
        _ = late.withUnsafeBufferPointer { producer.push(timestamp: 1080, values: $0) }
        windower.drain(&consumer, ring: ring) { seen.append(($0.start, Self.firstValues($0, channels: 1))) }
        #expect(seen.last?.0 == 1040)
        #expect(seen.last?.1 == [1040, 1050])
    }

    @Test("features are computed per channel, feature-major, and match direct computation")
    func features() throws {
        var (ring, consumer) = Self.filledRing(frames: 40, channels: 3, capacity: 64)
        var extractor = FeatureExtractor(
            channels: 3, features: [.mean, .std, .min, .max, .rms, .energy, .zeroCrossingRate, .quantile(0.5)])
        #expect(extractor.dimension == 24)
        #expect(extractor.names[3] == "std[0]" && extractor.names[23] == "q50[2]")
        var windower = Windower(spec: try .sliding(frames: 20, hop: 15))
        var vectors: [[Float]] = []
        windower.drain(&consumer, ring: ring) { vectors.append(extractor.extract($0.segments)) }
        #expect(vectors.count == 2)
        // Second window: frames 15..<35; channel 1 values are i + 0.1.
        let values = (15..<35).map { Double($0) + 0.1 }
        let mean = values.reduce(0, +) / 20
        let std = (values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 20).squareRoot()
        let v = vectors[1]
        #expect(abs(Double(v[0 * 3 + 1]) - mean) < 1e-4)
        #expect(abs(Double(v[1 * 3 + 1]) - std) < 1e-4)
        #expect(v[2 * 3 + 1] == Float(15.1) && v[3 * 3 + 1] == Float(34.1))
        let energy = values.map { $0 * $0 }.reduce(0, +) / 20
        #expect(abs(Double(v[5 * 3 + 1]) - energy) / energy < 1e-5)
        #expect(abs(Double(v[4 * 3 + 1]) - energy.squareRoot()) < 1e-3)
        #expect(v[6 * 3 + 1] == Float(1) / 19)  // a ramp crosses its mean once
        #expect(v[7 * 3 + 1] == Float(24.1))  // lower median of 20 values
        #expect(Feature("q25") == .quantile(0.25) && Feature("zcr") == .zeroCrossingRate && Feature("nope") == nil)
    }
}
