import TributaryWire

/// Chunk payloads before zstd: frames (time stamps, then each channel through ``ChannelCodec``) and label events.
enum ChunkCodec {
    static func encodeFrames(timestamps: [Int64], values: [Float], stream: RecordingStream) -> [UInt8] {
        var w = ByteWriter(capacity: values.count * 4 + timestamps.count + 64)
        let count = timestamps.count
        // Time: a fixed period when every step is equal, else varint steps from the first.
        var fixed = count > 1
        let period = count > 1 ? timestamps[1] &- timestamps[0] : 0
        if fixed { for i in 1..<count where timestamps[i] &- timestamps[i - 1] != period { fixed = false; break } }
        w.write(timestamps.first ?? 0)
        if fixed && period >= 0 {
            w.write(UInt8(1))
            w.write(period)
        } else {
            w.write(UInt8(0))
            for i in 1..<count {
                let step = timestamps[i] &- timestamps[i - 1]
                w.writeVarint(UInt64(bitPattern: (step << 1) ^ (step >> 63)))
            }
        }
        let channels = stream.channels
        var column = [Float](repeating: 0, count: count)
        for c in 0..<channels {
            for i in 0..<count { column[i] = values[i * channels + c] }
            var scale: Float?
            if case .int16(let scales) = stream.mode { scale = scales[c] }
            ChannelCodec.encode(column, int16Scale: scale, into: &w)
        }
        return w.bytes
    }

    static func decodeFrames(_ payload: UnsafeRawBufferPointer, count: Int, stream: RecordingStream)
        throws(WireError) -> (timestamps: [Int64], values: [Float])
    {
        // Every value costs at least a bit (Rice coding of a zero residual), and a chunk holds at most
        // maxChunkValues: refuse counts the payload cannot hold before allocating for them.
        guard count >= 1, count <= payload.count * 8 / stream.channels,
            count * stream.channels <= RecordingFormat.maxChunkValues
        else {
            throw WireError(.countOutOfRange, "\(count) frames in a \(payload.count)-byte chunk")
        }
        var r = ByteReader(payload)
        var timestamps = [Int64](repeating: 0, count: count)
        let first = try r.read(Int64.self, "first time stamp")
        let fixed = try r.read(UInt8.self, "timing")
        if count > 0 { timestamps[0] = first }
        switch fixed {
        case 1:
            let period = try r.read(Int64.self, "period")
            for i in 1..<Swift.max(1, count) { timestamps[i] = timestamps[i - 1] &+ period }
        case 0:
            for i in 1..<Swift.max(1, count) {
                let z = try r.readVarint("time step")
                timestamps[i] = timestamps[i - 1] &+ (Int64(bitPattern: z >> 1) ^ -Int64(bitPattern: z & 1))
            }
        default:
            throw WireError(.malformed, "timing mode \(fixed)")
        }
        let channels = stream.channels
        var values = [Float](repeating: 0, count: count * channels)
        var scratch: [UInt64] = []
        scratch.reserveCapacity(count)
        var failure: WireError?
        values.withUnsafeMutableBufferPointer { output in
            for c in 0..<channels {
                var scale: Float?
                if case .int16(let scales) = stream.mode { scale = scales[c] }
                do throws(WireError) {
                    try ChannelCodec.decode(
                        &r, count: count, scale: scale, into: output.baseAddress! + c, stride: channels,
                        scratch: &scratch)
                } catch {
                    failure = error
                    return
                }
            }
        }
        if let failure { throw failure }
        try r.expectEnd("frame chunk")
        return (timestamps, values)
    }

    static func encodeLabels(_ events: [LabelEvent]) -> [UInt8] {
        var w = ByteWriter(capacity: events.count * 18)
        for e in events {
            w.write(e.start)
            w.write(e.end)
            w.write(e.label)
        }
        return w.bytes
    }

    static func decodeLabels(_ payload: UnsafeRawBufferPointer, count: Int, labelCount: Int) throws(WireError)
        -> [LabelEvent]
    {
        guard count == payload.count / 18, payload.count % 18 == 0 else {
            throw WireError(.countOutOfRange, "\(count) label events in a \(payload.count)-byte chunk")
        }
        var r = ByteReader(payload)
        var events: [LabelEvent] = []
        for _ in 0..<count {
            let start = try r.read(Int64.self, "label start")
            let end = try r.read(Int64.self, "label end")
            let label = try r.read(UInt16.self, "label")
            guard end >= start else { throw WireError(.valueOutOfRange, "label event ends before it starts") }
            guard Int(label) < Swift.max(labelCount, 1) || labelCount == 0 else {
                throw WireError(.indexOutOfRange, "label \(label) has no name")
            }
            events.append(LabelEvent(start: start, end: end, label: label))
        }
        try r.expectEnd("label chunk")
        return events
    }
}
