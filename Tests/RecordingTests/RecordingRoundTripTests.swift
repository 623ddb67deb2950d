import Testing

@testable import Recording

@Suite struct RecordingRoundTripTests {
    static func imu(id: UInt16 = 0, device: String = "watch-1", mode: RecordingSampleMode = .float32) -> RecordingStream
    {
        RecordingStream(
            id: id, device: device, name: "imu", channelNames: ["ax", "ay", "az", "gx", "gy", "gz"],
            units: ["m/s2", "m/s2", "m/s2", "rad/s", "rad/s", "rad/s"], sampleRate: 50, mode: mode,
            labelNames: ["rest", "walk"], tags: ["subject": "7", "arm": "left"])
    }

    @Test("float32 frames, two streams and label events come back bit for bit, in chunks of any size")
    func roundTrip() throws {
        let path = temporaryPath("round.trec")
        let second = RecordingStream(id: 9, device: "pump-2", name: "temp", channelNames: ["t"], sampleRate: 0)
        let writer = try RecordingWriter(path: path, streams: [Self.imu(), second], chunkFrames: 100, sync: .never)
        let values = sampleValues(frames: 1_234, channels: 6, seed: 1, awkward: true)
        let timestamps = (0..<1_234).map { Int64(1_700_000_000_000_000_000) + Int64($0) * 20_000_000 }
        // Appended in uneven pieces, as a recorder receives batches.
        var start = 0
        for piece in [1, 99, 250, 7, 877] {
            try append(
                writer, stream: 0, Array(timestamps[start..<(start + piece)]),
                Array(values[(start * 6)..<((start + piece) * 6)]))
            start += piece
        }
        var rng = TestRandom(2)
        var irregular: [Int64] = [-5]
        for _ in 1..<321 { irregular.append(irregular.last! + Int64(rng.next() % 3_000_000)) }  // repeats allowed
        let temps = sampleValues(frames: 321, channels: 1, seed: 3, awkward: false)
        try append(writer, stream: 9, irregular, temps)
        let events = [
            LabelEvent(start: timestamps[0], end: timestamps[500], label: 0),
            LabelEvent(start: timestamps[500], end: timestamps[1_233] + 1, label: 1),
        ]
        for event in events { try writer.append(label: event, stream: 0) }
        try writer.close()

        let reader = try RecordingReader(path: path)
        #expect(!reader.recovered)
        #expect(reader.streams == [Self.imu(), second])
        let imu = try reader.frames(stream: 0)
        #expect(imu.timestamps == timestamps)
        expectSameBits(imu.values, values)
        let temp = try reader.frames(stream: 9)
        #expect(temp.timestamps == irregular)
        expectSameBits(temp.values, temps)
        #expect(try reader.labels(stream: 0) == events)
        #expect(reader.frameCount(stream: 0) == 1_234)
        #expect(reader.frameChunks(stream: 0).count == 13)
        #expect(reader.timeRange(stream: 9) == -5...irregular.last!)
    }

    @Test("int16 streams keep every value to within half a scale step, and values on the grid exactly")
    func int16() throws {
        let path = temporaryPath("int16.trec")
        let scales: [Float] = [0.001, 0.01, 0.5, 0.001, 0.001, 0.001]
        let writer = try RecordingWriter(path: path, streams: [Self.imu(mode: .int16(scales: scales))], chunkFrames: 64)
        var rng = TestRandom(4)
        let values = (0..<(500 * 6)).map { i -> Float in Float(Int(rng.next() % 60_000) - 30_000) * scales[i % 6] }
        let offGrid = values.enumerated().map { $0.element + scales[$0.offset % 6] * 0.3 }
        let timestamps = (0..<500).map { Int64($0) * 1_000_000 }
        try append(writer, stream: 0, timestamps, offGrid)
        try writer.close()
        let back = try RecordingReader(path: path).frames(stream: 0)
        for i in values.indices {
            #expect(abs(back.values[i] - offGrid[i]) <= scales[i % 6] * 0.5 + 1e-6)
            #expect(back.values[i] == values[i])
        }
    }

    @Test("seeking by time reads only the chunks that overlap the range and returns exactly the frames in it")
    func seek() throws {
        let path = temporaryPath("seek.trec")
        let writer = try RecordingWriter(path: path, streams: [Self.imu()], chunkFrames: 50, sync: .never)
        let values = sampleValues(frames: 1_000, channels: 6, seed: 5, awkward: false)
        let timestamps = (0..<1_000).map { Int64($0) * 20_000_000 }
        try append(writer, stream: 0, timestamps, values)
        try writer.close()
        let reader = try RecordingReader(path: path)
        var rng = TestRandom(6)
        for _ in 0..<50 {
            let a = Int64(rng.next() % 21_000_000_000) - 500_000_000
            let b = a + Int64(rng.next() % 3_000_000_000)
            let got = try reader.frames(stream: 0, from: a, to: b)
            let expected = timestamps.indices.filter { timestamps[$0] >= a && timestamps[$0] <= b }
            #expect(got.timestamps == expected.map { timestamps[$0] })
            expectSameBits(got.values, expected.flatMap { values[($0 * 6)..<($0 * 6 + 6)] })
            let chunks = reader.frameChunks(stream: 0, from: a, to: b)
            #expect(chunks.allSatisfy { $0.last >= a && $0.first <= b })
            #expect(chunks.count == Set(expected.map { $0 / 50 }).count)
        }
    }

    @Test("streams declared after the header are found again, with their frames")
    func laterStreams() throws {
        let path = temporaryPath("later.trec")
        let writer = try RecordingWriter(path: path, streams: [], chunkFrames: 10, sync: .never)
        #expect(writer.nextStreamID == 0)
        try writer.addStream(Self.imu(id: 0, device: "a"))
        #expect(writer.nextStreamID == 1)
        let values = sampleValues(frames: 25, channels: 6, seed: 7, awkward: false)
        try append(writer, stream: 0, (0..<25).map { Int64($0) }, values)
        try writer.addStream(Self.imu(id: 1, device: "b"))
        try append(writer, stream: 1, (0..<25).map { Int64($0) }, values)
        #expect(throws: RecordingError.self) { try writer.addStream(Self.imu(id: 1, device: "c")) }
        try writer.close()
        for cut in [false, true] {
            if cut { truncateFile(path, to: fileSize(path) - 3) }  // footer gone: the index is rebuilt by scanning
            let reader = try RecordingReader(path: path)
            #expect(reader.recovered == cut)
            #expect(reader.streams.map(\.device) == ["a", "b"])
            expectSameBits(try reader.frames(stream: 1).values, values)
        }
    }
}
