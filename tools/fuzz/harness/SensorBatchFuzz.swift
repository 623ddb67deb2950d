// libFuzzer target `sensor-batch`: SensorBatch.decode (Sources/SensorFrames) on arbitrary bytes, both into arrays
// and straight into a FrameRing whose next reservation wraps around. Thrown WireErrors are expected; a crash is not.
import SensorFrames
import StreamCore
import TributaryWire

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSensorBatch(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    withBothChecksums(data, size) { bytes in
        guard let (header, timestamps, values) = verdict(bytes, { () throws(WireError) in try SensorBatch.decode(bytes) })
        else { return }
        invariant(timestamps.count == header.frames, "\(timestamps.count) time stamps for \(header.frames) frames")
        invariant(values.count == header.frames * header.channels, "\(values.count) values")
        invariant((1...SensorBatch.maxChannels).contains(header.channels), "\(header.channels) channels")
        invariant(zip(timestamps, timestamps.dropFirst()).allSatisfy { $0 <= $1 }, "time stamps decrease")
        invariant(timestamps.first == header.firstTimestamp, "first time stamp differs from the header's")
        invariant(timestamps.last == header.lastTimestamp, "last time stamp differs from the header's")
        if case .float32 = header.format { invariant(values.allSatisfy(\.isFinite), "non-finite float32 sample") }

        // The ingest path: decode into a ring of 8 frames that already holds 5, so the batch's reservation wraps
        // around the end of the ring (and larger batches drop the oldest frames).
        let ring = FrameRing(capacity: 8, channels: header.channels)
        var producer = ring.makeProducer()
        let frame = [Float](repeating: 0.5, count: header.channels)
        frame.withUnsafeBufferPointer { f in
            for t in 0..<5 { producer.push(timestamp: Int64(t), values: f) }
        }
        let result = try? SensorBatch.decode(bytes, into: &producer, ring: ring)
        invariant(result != nil, "the array decoder accepted what the ring decoder rejected")
        invariant(result.map { $0.written == min(header.frames, 8) } ?? true, "ring got the wrong frame count")
    }
    return 0
}
