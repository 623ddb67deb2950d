import Glibc
public import Logging
import Recording
import SensorFrames
public import StreamCore
import Synchronization
import SystemSupport

/// A source of frames for the agent's ring, on its own thread (file and socket reads block).
public final class FrameSource: Sendable {
    let stop = Atomic<Bool>(false)
    let finished = Atomic<Bool>(false)
    let frames = Atomic<Int>(0)
    let rejected = Atomic<Int>(0)

    /// Frames written into the ring.
    public var frameCount: Int { frames.load(ordering: .relaxed) }
    /// Sensor messages refused (bad payload, wrong channel count), the first ones logged.
    public var rejectedCount: Int { rejected.load(ordering: .relaxed) }

    init() {}

    /// Whether the source ended (a recording played through without looping).
    public var isFinished: Bool { finished.load(ordering: .acquiring) }

    /// Asks the thread to stop (it notices within ~100 ms).
    public func cancel() { stop.store(true, ordering: .releasing) }

    /// Sensor frame batches from UDP datagrams on `host:port`.
    public static func udp(host: String, port: Int, ring: FrameRing, maxBytes: Int, logger: Logger) throws
        -> FrameSource
    {
        let source = FrameSource()
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        guard fd >= 0 else { throw SourceError("udp socket: \(String(cString: strerror(errno)))") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        guard inet_pton(AF_INET, host, &address.sin_addr) == 1 else { throw SourceError("udp host '\(host)'") }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0 else {
            close(fd)
            throw SourceError("cannot listen on udp \(host):\(port): \(String(cString: strerror(errno)))")
        }
        var timeout = timeval(tv_sec: 0, tv_usec: 100_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        Threads.detach {
            var producer = ring.makeProducer()
            var buffer = [UInt8](repeating: 0, count: 65_536)
            while !source.stop.load(ordering: .acquiring) {
                let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                guard n > 0 else { continue }
                buffer.withUnsafeBytes { all in
                    source.take(UnsafeRawBufferPointer(rebasing: all[..<n]), &producer, ring, maxBytes, logger)
                }
            }
            close(fd)
            source.finished.store(true, ordering: .releasing)
        }
        return source
    }

    /// Sensor frame batches on standard input, each preceded by its length (u32, little-endian).
    public static func standardInput(ring: FrameRing, maxBytes: Int, logger: Logger) -> FrameSource {
        let source = FrameSource()
        Threads.detach {
            var producer = ring.makeProducer()
            func readExactly(_ count: Int) -> [UInt8]? {
                var bytes = [UInt8](repeating: 0, count: count)
                var got = 0
                while got < count {
                    let n = bytes.withUnsafeMutableBytes { read(STDIN_FILENO, $0.baseAddress! + got, count - got) }
                    if n < 0 && errno == EINTR { continue }
                    if n <= 0 { return nil }
                    got += n
                }
                return bytes
            }
            while !source.stop.load(ordering: .acquiring), let prefix = readExactly(4) {
                let length = Int(UInt32(littleEndian: prefix.withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) }))
                guard length <= maxBytes, let payload = readExactly(length) else {
                    logger.error(
                        "standard input: a batch of \(length) bytes (limit \(maxBytes)) or a cut stream; stopping")
                    break
                }
                payload.withUnsafeBytes { source.take($0, &producer, ring, maxBytes, logger) }
            }
            source.finished.store(true, ordering: .releasing)
        }
        return source
    }

    /// Frames of recordings (their first stream with the ring's channel count), at `speed` × real time or as
    /// fast as the ring is drained (speed 0: the ring must refuse frames when full, not drop them).
    public static func recordings(_ paths: [String], speed: Double, loop: Bool, ring: FrameRing, logger: Logger)
        throws -> FrameSource
    {
        for path in paths {
            let reader: RecordingReader
            do { reader = try RecordingReader(path: path) } catch { throw SourceError("\(error)") }
            guard reader.streams.contains(where: { $0.channels == ring.channels }) else {
                throw SourceError("\(path) has no stream of \(ring.channels) channels")
            }
        }
        let source = FrameSource()
        Threads.detach {
            let readers = paths.compactMap { try? RecordingReader(path: $0) }
            var producer = ring.makeProducer()
            let clock = ContinuousClock()
            var shift: Int64 = 0
            repeat {
                for reader in readers {
                    guard let stream = reader.streams.first(where: { $0.channels == ring.channels }) else { continue }
                    let start = clock.now
                    let first = reader.timeRange(stream: stream.id)?.lowerBound ?? 0
                    var last: Int64 = first
                    for chunk in reader.frameChunks(stream: stream.id) {
                        guard !source.stop.load(ordering: .acquiring) else { break }
                        guard let (timestamps, values) = try? reader.frames(chunk) else {
                            logger.error("\(reader.path): a damaged chunk was skipped")
                            continue
                        }
                        var i = 0
                        while i < timestamps.count && !source.stop.load(ordering: .acquiring) {
                            // Paced: every frame already due goes at once, then a sleep of at least 20 ms (a
                            // thread per device must not wake for every frame); unpaced: 256 at a time.
                            var n = Swift.min(timestamps.count - i, 256)
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
                            let span = producer.reserveAvailable(n)
                            if span.count == 0 {
                                Threads.sleep(seconds: 0.001)
                                continue
                            }
                            let (a, b) = ring.segments(span)
                            var k = i
                            for segment in [a, b] {
                                for j in 0..<segment.count {
                                    segment.timestamps[j] = timestamps[k] &+ shift
                                    for c in 0..<ring.channels {
                                        segment.values[j * ring.channels + c] = values[k * ring.channels + c]
                                    }
                                    k += 1
                                }
                            }
                            producer.commit(span.count)
                            source.frames.add(span.count, ordering: .relaxed)
                            i += span.count
                        }
                        last = timestamps.last ?? last
                    }
                    shift &+= last - first + 1_000_000
                }
            } while loop && !source.stop.load(ordering: .acquiring)
            source.finished.store(true, ordering: .releasing)
        }
        return source
    }

    /// Validates one sensor batch and writes it into the ring.
    func take(
        _ bytes: UnsafeRawBufferPointer, _ producer: inout FrameRing.Producer, _ ring: FrameRing, _ maxBytes: Int,
        _ logger: Logger
    ) {
        do {
            let (_, written) = try SensorBatch.decode(bytes, into: &producer, ring: ring, maxBytes: maxBytes)
            frames.add(written, ordering: .relaxed)
        } catch {
            if rejected.add(1, ordering: .relaxed).newValue <= 10 {
                logger.warning("rejected a sensor batch: \(error)")
            }
        }
    }
}

/// A source that cannot start.
public struct SourceError: Error, CustomStringConvertible, Sendable {
    /// What is wrong.
    public var description: String
    init(_ description: String) { self.description = description }
}
