import Recording
import Testing
import TributaryMath

@testable import CSVCodec
@testable import Replay

@Suite struct CSVTests {
    @Test("decimal seconds are read exactly, digits past the ninth rounded, and printed back the same")
    func seconds() {
        #expect(CSVLayout.nanoseconds(seconds: "12.5") == 12_500_000_000)
        #expect(CSVLayout.nanoseconds(seconds: " -0.000000001 ") == -1)
        #expect(CSVLayout.nanoseconds(seconds: "1.0000000005") == 1_000_000_001)
        #expect(CSVLayout.nanoseconds(seconds: "1.0000000004") == 1_000_000_000)
        #expect(CSVLayout.nanoseconds(seconds: ".25") == 250_000_000)
        #expect(CSVLayout.nanoseconds(seconds: "3") == 3_000_000_000)
        #expect(CSVLayout.nanoseconds(seconds: "1e-3") == 1_000_000)
        for bad in ["", ".", "-", "1.2.3", "abc", "1,5", "99999999999"] {
            #expect(CSVLayout.nanoseconds(seconds: bad[...]) == nil, "\(bad)")
        }
        var random = SplitMix64(seed: 1)
        for _ in 0..<1_000 {
            let state = random.next()
            let ns = Int64(bitPattern: state) % 4_000_000_000_000_000_000
            #expect(CSVLayout.nanoseconds(seconds: CSVLayout.seconds(ns)[...]) == ns)
        }
    }

    static let header = """
        # device: watch-07
        # stream: imu
        # rate: 50.0
        # tag.subject: 3
        # label_names: rest,walk,run
        time,ax[m/s2],ay[m/s2],gz[rad/s],label

        """

    /// A CSV in the canonical form `cat` prints, with awkward values and irregular time.
    static func canonicalCSV(rows: Int) -> (text: String, values: [Float]) {
        var text = header
        var values: [Float] = []
        var random = SplitMix64(seed: 7)
        var t: Int64 = 1_700_000_000_000_000_000
        let awkward: [Float] = [.nan, -0.0, .infinity, -.infinity, .leastNonzeroMagnitude, 1e-30, 0.1, -2.5e-7, 3.4e38]
        let labels = ["rest", "walk", "run", ""]
        for i in 0..<rows {
            let state = random.next()
            t += 20_000_000 + Int64(state >> 60)
            var row: [Float] = [
                Float(bitPattern: UInt32(truncatingIfNeeded: state >> 7) & 0xBF7F_FFFF),
                Float(Int(state >> 40) % 2_000 - 1_000) / 100,
                awkward[i % awkward.count],
            ]
            if i % 5 == 0 { row[0] = -0.0 }
            values += row
            let label = labels[(i / 7) % labels.count]
            text += CSVLayout.seconds(t) + "," + row.map(CSVLayout.text).joined(separator: ",") + "," + label + "\n"
            values.append(label.isEmpty ? -1 : Float(labels.firstIndex(of: label)!))
        }
        return (text, values)
    }

    @Test("CSV → recording → CSV is lossless for float32: same text, same bits, same labels and metadata")
    func losslessRoundTrip() throws {
        let directory = temporaryDirectory()
        let (text, values) = Self.canonicalCSV(rows: 20_000)
        writeText(text, to: directory + "/in.csv")
        var options = CSVImport()
        options.chunkFrames = 4_096
        let result = try options.convert(csvPath: directory + "/in.csv", to: directory + "/data.trec")
        #expect(result.frames == 20_000)
        let reader = try RecordingReader(path: directory + "/data.trec")
        let stream = reader.streams[0]
        #expect(stream.device == "watch-07" && stream.name == "imu" && stream.sampleRate == 50)
        #expect(stream.channelNames == ["ax", "ay", "gz", "label"])
        #expect(stream.units == ["m/s2", "m/s2", "rad/s", ""])
        #expect(stream.labelNames == ["rest", "walk", "run"])
        #expect(stream.tags == ["subject": "3"])
        expectSameBits(try reader.frames(stream: 0).values, values)
        try CSVExport().write(reader, to: directory + "/out.csv")
        let back = readText(directory + "/out.csv")
        #expect(back.count == text.count)
        #expect(back == text)
    }

    @Test("without a time column, time stamps come from the rate; int16 storage stays within half a step")
    func rateAndInt16() throws {
        let directory = temporaryDirectory()
        var text = "ax,ay\n"
        for i in 0..<1_000 { text += "\(Float(i) * 0.01),\(Float(-i) * 0.5)\n" }
        writeText(text, to: directory + "/in.csv")
        var options = CSVImport()
        #expect { try options.convert(csvPath: directory + "/in.csv", to: directory + "/x.trec") } throws: { error in
            (error as? CSVError)?.kind == .invalidInput && "\(error)".contains("rate")
        }
        options.rate = 200
        options.storage = .int16Automatic
        _ = try options.convert(csvPath: directory + "/in.csv", to: directory + "/x.trec")
        let reader = try RecordingReader(path: directory + "/x.trec")
        let frames = try reader.frames(stream: 0)
        #expect(frames.timestamps == (0..<1_000).map { Int64($0) * 5_000_000 })
        guard case .int16(let scales) = reader.streams[0].mode else {
            Issue.record("expected int16 storage")
            return
        }
        for i in 0..<1_000 {
            #expect(abs(frames.values[2 * i] - Float(i) * 0.01) <= scales[0] / 2 * 1.001)
            #expect(abs(frames.values[2 * i + 1] - Float(-i) * 0.5) <= scales[1] / 2 * 1.001)
        }
    }

    @Test(
        "bad CSV gives a clear error naming the file and line",
        arguments: [
            ("time,a\n0,1\n1,2,3\n", ":3: 3 columns"),
            ("time,a\n0,1\n1,x\n", ":3: 'x' in column a is not a number"),
            ("time,a\n1,1\n0.5,2\n", ":3: time goes backwards"),
            ("time,a\nnoon,1\n", ":2: time 'noon' is not a number"),
            ("# only comments\n", "no header row"),
            ("time,,a\n0,1,2\n", "column 2 has no name"),
        ])
    func badInput(csv: String, expected: String) {
        let directory = temporaryDirectory()
        writeText(csv, to: directory + "/bad.csv")
        #expect { try CSVImport().convert(csvPath: directory + "/bad.csv", to: directory + "/bad.trec") } throws: {
            error in
            guard let error = error as? CSVError else { return false }
            return error.kind == .invalidInput && error.message.contains(expected) && ReplayError(error).exitCode == 3
        }
    }

    @Test("a missing file is a file error (exit code 2)")
    func missing() {
        #expect { try CSVImport().convert(csvPath: "/nonexistent/in.csv", to: "/tmp/x.trec") } throws: { error in
            (error as? CSVError).map(ReplayError.init)?.exitCode == 2
        }
    }
}
