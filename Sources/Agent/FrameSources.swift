import Glibc
public import Logging
public import Recording
public import SensorFrames
import Synchronization
public import SystemSupport

/// A frame source other than the MQTT sensor topic, on its own thread (file and socket reads block). Each one
/// feeds the agent's ring through its own ``SensorIngest``, so every batch is checked, its sequence tracked and
/// everything counted the same way whatever the source.
public final class FrameSource: Sendable {
    let stop = Atomic<Bool>(false)
    let finished = Atomic<Bool>(false)

    init() {}

    /// Whether the source ended (a recording played through without looping, standard input closed).
    public var isFinished: Bool { finished.load(ordering: .acquiring) }

    /// Asks the thread to stop (it notices within ~100 ms).
    public func cancel() { stop.store(true, ordering: .releasing) }

    var stopping: Bool { stop.load(ordering: .acquiring) }

    /// Sensor frame batches from UDP datagrams on `host:port`.
    public static func udp(host: String, port: Int, ingest: SensorIngest) throws(SystemError) -> FrameSource {
        let socket = try UDPSocket(host: host, port: port, receiveTimeout: .milliseconds(100))
        let source = FrameSource()
        Threads.detach {
            var ingest = ingest
            var buffer = [UInt8](repeating: 0, count: 65_536)
            while !source.stopping {
                buffer.withUnsafeMutableBytes { all in
                    // A timeout or an interrupted read is no datagram; any other error ends the source below.
                    guard let n = try? socket.receive(into: all), n > 0 else { return }
                    ingest.ingest(UnsafeRawBufferPointer(rebasing: all[..<n]))
                }
            }
            socket.close()
            source.finished.store(true, ordering: .releasing)
        }
        return source
    }

    /// Sensor frame batches on standard input, each preceded by its length (u32, little-endian). A length over
    /// the limit is counted as `too_large` and its batch skipped, as on every other source.
    public static func standardInput(ingest: SensorIngest, logger: Logger) -> FrameSource {
        let source = FrameSource()
        Threads.detach {
            var ingest = ingest
            var payload = [UInt8](repeating: 0, count: ingest.maxBytes)
            func readExactly(_ target: UnsafeMutableRawBufferPointer) -> Bool {
                var got = 0
                while got < target.count {
                    let n = read(STDIN_FILENO, target.baseAddress! + got, target.count - got)
                    if n < 0 && errno == EINTR { continue }
                    if n <= 0 { return false }
                    got += n
                }
                return true
            }
            var prefix = [UInt8](repeating: 0, count: 4)
            while !source.stopping, prefix.withUnsafeMutableBytes(readExactly) {
                let length = Int(UInt32(littleEndian: prefix.withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) }))
                if length > payload.count {
                    // Counted like any oversized batch, then skipped without being held in memory.
                    var skipped = 0
                    var chunk = [UInt8](repeating: 0, count: 65_536)
                    while skipped < length {
                        let n = Swift.min(chunk.count, length - skipped)
                        guard
                            chunk.withUnsafeMutableBytes({
                                readExactly(UnsafeMutableRawBufferPointer(rebasing: $0[..<n]))
                            })
                        else { break }
                        skipped += n
                    }
                    ingest.rejectOversized(length)
                    continue
                }
                let complete = payload.withUnsafeMutableBytes {
                    readExactly(UnsafeMutableRawBufferPointer(rebasing: $0[..<length]))
                }
                guard complete else {
                    logger.error("standard input ended inside a batch of \(length) bytes")
                    break
                }
                _ = payload.withUnsafeBytes { ingest.ingest(UnsafeRawBufferPointer(rebasing: $0[..<length])) }
            }
            source.finished.store(true, ordering: .releasing)
        }
        return source
    }

    /// Frames of recordings (their first stream with the ring's channel count), at `speed` × real time or as
    /// fast as the ring is drained (speed 0: the ring must refuse frames when full, not drop them; the source
    /// waits for room).
    public static func recordings(
        _ paths: [String], speed: Double, loop: Bool, channels: Int, ingest: SensorIngest, logger: Logger
    ) throws(RecordingError) -> FrameSource {
        // Checked here, so a bad file is an error at start; read again on the source's thread (a reader is
        // not shared between threads).
        for path in paths {
            let reader = try RecordingReader(path: path)
            guard reader.streams.contains(where: { $0.channels == channels }) else {
                throw RecordingError(.invalidArgument, "no stream of \(channels) channels", path: path)
            }
        }
        let source = FrameSource()
        Threads.detach {
            var ingest = ingest
            let readers = paths.compactMap { path -> (RecordingReader, RecordingStream)? in
                guard let reader = try? RecordingReader(path: path),
                    let stream = reader.streams.first(where: { $0.channels == channels })
                else {
                    logger.error("\(path) can no longer be read; skipped")
                    return nil
                }
                return (reader, stream)
            }
            let clock = ContinuousClock()
            var shift: Int64 = 0
            var shifted: [Int64] = []
            repeat {
                for (reader, stream) in readers {
                    let start = clock.now
                    let first = reader.timeRange(stream: stream.id)?.lowerBound ?? 0
                    var last: Int64 = first
                    for chunk in reader.frameChunks(stream: stream.id) where !source.stopping {
                        guard let (timestamps, values) = try? reader.frames(chunk) else {
                            logger.error("\(reader.path): a damaged chunk was skipped")
                            continue
                        }
                        shifted = timestamps.map { $0 &+ shift }
                        var i = 0
                        while i < timestamps.count && !source.stopping {
                            // Paced: every frame already due goes at once, then a sleep of at least 20 ms (a
                            // thread per device must not wake for every frame); unpaced: 4096 at a time.
                            var n = Swift.min(timestamps.count - i, 4_096)
                            if speed > 0 {
                                func due(_ index: Int) -> ContinuousClock.Instant {
                                    start + .nanoseconds(Int64(Double(timestamps[index] - first) / speed))
                                }
                                let now = clock.now
                                if now < due(i) {
                                    let wait = due(i) - now
                                    let seconds =
                                        Double(wait.components.seconds) + Double(wait.components.attoseconds) / 1e18
                                    Threads.sleep(seconds: Swift.min(0.05, Swift.max(0.02, seconds)))
                                    continue
                                }
                                n = 1
                                while i + n < timestamps.count && n < 4_096 && due(i + n) <= now { n += 1 }
                            }
                            let c = channels
                            shifted.withUnsafeBufferPointer { t in
                                values.withUnsafeBufferPointer { v in
                                    _ = ingest.ingest(
                                        timestamps: UnsafeBufferPointer(rebasing: t[i..<(i + n)]),
                                        values: UnsafeBufferPointer(rebasing: v[(i * c)..<((i + n) * c)])
                                    ) {
                                        // As fast as possible: wait for the agent to drain the ring. Paced: a
                                        // live stream, the ring's policy decides.
                                        guard speed == 0, !source.stopping else { return false }
                                        Threads.sleep(seconds: 0.001)
                                        return true
                                    }
                                }
                            }
                            i += n
                        }
                        last = timestamps.last ?? last
                    }
                    shift &+= last - first + 1_000_000
                }
            } while loop && !source.stopping
            source.finished.store(true, ordering: .releasing)
        }
        return source
    }
}
