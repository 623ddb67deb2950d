public import MQTT
import Recording
import SensorFrames

/// Publishes recordings to MQTT sensor topics as devices would: in real time, at ×N speed, or as fast as the
/// broker takes them.
public struct PlaybackOptions: Sendable {
    /// Playback speed (1 = real time); nil = as fast as possible.
    public var speed: Double? = 1
    /// How many times to play each recording (nil: forever).
    public var loops: Int? = 1
    /// Frames per published batch (nil: a tenth of a second of data at the stream's rate, at least 1).
    public var batchFrames: Int?
    /// QoS of the sensor messages.
    public var qos: MQTTQoS = .atLeastOnce
    /// Topic prefix.
    public var prefix = "tributary/v1"
    /// Move time stamps so the first frame is "now" on the system clock (as live devices would stamp them).
    public var rebaseToNow = false
    /// Append a label channel built from the stream's label events (id of the covering event, -1 for none).
    public var labelEventsAsChannel = false

    /// Creates options.
    public init() {}
}

/// A recording stream assigned to a device id.
public struct PlaybackAssignment: Sendable {
    /// The recording file.
    public var path: String
    /// Stream id within it (nil: every stream of the file).
    public var stream: UInt16?
    /// The device id to publish as (nil: the device id stored in the recording).
    public var device: String?

    /// Creates an assignment.
    public init(path: String, stream: UInt16? = nil, device: String? = nil) {
        self.path = path
        self.stream = stream
        self.device = device
    }

    /// Assigns `paths` round-robin to `count` device ids made from `template` (`{n}` is replaced by 1…count,
    /// `{device}` by the recorded device id, `{stream}` by the stream name).
    public static func fleet(paths: [String], count: Int, template: String) -> [PlaybackAssignment] {
        (0..<count).map { n in
            PlaybackAssignment(path: paths[n % paths.count], device: template.replacingAll("{n}", with: String(n + 1)))
        }
    }
}

/// Counters of a playback.
public struct PlaybackStats: Sendable, Hashable {
    /// Batches published.
    public var batches = 0
    /// Frames published.
    public var frames = 0
    /// Values published (frames × channels).
    public var values = 0
    /// Payload bytes published.
    public var bytes = 0
    /// Worst lateness of a batch against its due time (paced playback).
    public var worstLag: Duration = .zero
}

/// Plays recordings into a broker.
public final class Player {
    let tracks: [PlaybackTrack]
    let options: PlaybackOptions
    /// Frames per batch of each track.
    let batchFrames: [Int]

    /// Opens the recordings. Throws for missing or corrupt files and unknown streams.
    public init(_ assignments: [PlaybackAssignment], options: PlaybackOptions) throws(ReplayError) {
        self.options = options
        var opened: [String: RecordingReader] = [:]
        var tracks: [PlaybackTrack] = []
        for assignment in assignments {
            let recording: RecordingReader
            if let existing = opened[assignment.path] {
                recording = existing
            } else {
                do { recording = try RecordingReader(path: assignment.path) } catch { throw ReplayError(error) }
                opened[assignment.path] = recording
            }
            var streams = recording.streams.filter { recording.frameCount(stream: $0.id) > 0 }
            if let id = assignment.stream {
                do { streams = [try recording.stream(id)] } catch { throw ReplayError(error) }
            }
            for stream in streams {
                var device = assignment.device ?? stream.device
                device = device.replacingAll("{device}", with: stream.device).replacingAll(
                    "{stream}", with: stream.name)
                let topic = "\(options.prefix)/dev/\(device)/sensor/\(stream.name)"
                tracks.append(
                    try PlaybackTrack(
                        recording: recording, stream: stream, device: device, topic: topic, loops: options.loops,
                        labelEventsAsChannel: options.labelEventsAsChannel))
            }
        }
        guard !tracks.isEmpty else {
            throw ReplayError(.invalidInput, "nothing to play: the recordings hold no frames")
        }
        self.tracks = tracks
        batchFrames = tracks.map { track in
            let automatic = track.stream.sampleRate > 0 ? Int((track.stream.sampleRate / 10).rounded()) : 100
            return Swift.max(1, Swift.min(65_535, options.batchFrames ?? Swift.max(1, automatic)))
        }
    }

    /// Device ids being played.
    public var devices: [String] { tracks.map(\.device) }

    /// Frames the whole playback will publish (nil when looping forever).
    public var totalFrames: Int? {
        var total = 0
        for track in tracks {
            guard let frames = track.totalFrames else { return nil }
            total += frames
        }
        return total
    }

    /// Plays everything through `client` (connected), pacing with `clock`. Returns when done, or throws
    /// `CancellationError` handling as a normal stop: cancellation ends playback and returns the counters.
    public func run<C: Clock & Sendable>(
        client: MQTTClient, clock: C, progress: (PlaybackStats) -> Void = { _ in }
    ) async throws(ReplayError) -> PlaybackStats where C.Duration == Duration {
        var stats = PlaybackStats()
        let pacer = options.speed.map { Pacer(clock: clock, speed: $0) }
        if options.rebaseToNow {
            let now = RealtimeClock.nanoseconds()
            for track in tracks { track.shift = now - track.first }
        }
        // A min-heap of tracks by the data time their next batch is due.
        var heap: [(due: Int64, track: Int)] = []
        for (i, track) in tracks.enumerated() {
            if let due = try track.nextDue(batchFrames: batchFrames[i]) { heap.append((due, i)) }
        }
        heap.sort { $0.due < $1.due }
        var batch = PlaybackTrack.Batch()
        var lastReport = 0
        while let top = heap.first {
            if Task.isCancelled { break }
            let track = tracks[top.track]
            if let pacer {
                do {
                    let lag = try await pacer.wait(until: top.due)
                    if lag > stats.worstLag { stats.worstLag = lag }
                } catch { break }
            }
            guard try track.next(maxFrames: batchFrames[top.track], into: &batch) else {
                Self.pop(&heap)
                continue
            }
            let payload = encode(track, batch)
            do {
                try await client.publish(track.topic, payload: payload, qos: options.qos)
            } catch {
                if error.code == .shutdown { break }
                throw ReplayError(.broker, "publishing to \(track.topic): \(error)")
            }
            track.sequence &+= 1
            stats.batches += 1
            stats.frames += batch.timestamps.count
            stats.values += batch.values.count
            stats.bytes += payload.count
            if stats.frames - lastReport >= 100_000 {
                lastReport = stats.frames
                progress(stats)
            }
            if let due = try track.nextDue(batchFrames: batchFrames[top.track]) {
                heap[0].due = due
                Self.siftDown(&heap, 0)
            } else {
                Self.pop(&heap)
            }
        }
        // Everything handed to the client reaches the broker before the caller disconnects.
        if !(await client.drain(timeout: .seconds(60))) {
            throw ReplayError(.broker, "\(client.inFlight) messages were still unacknowledged after 60 s")
        }
        progress(stats)
        return stats
    }

    func encode(_ track: PlaybackTrack, _ batch: PlaybackTrack.Batch) -> [UInt8] {
        let ts = batch.timestamps
        var timing = SensorBatch.Timing.timestamps(ts)
        if ts.count > 1 {
            let period = ts[1] &- ts[0]
            if period > 0, period <= Int64(UInt32.max) {
                var uniform = true
                for i in 2..<ts.count where ts[i] &- ts[i - 1] != period {
                    uniform = false
                    break
                }
                if uniform { timing = .fixedPeriod(UInt32(period)) }
            }
        }
        var format = SensorBatch.SampleFormat.float32
        if case .int16(let scales) = track.stream.mode {
            format = .int16(scales: scales + (track.labelEvents == nil ? [] : [1]))
        }
        return SensorBatch.encode(
            sequence: track.sequence, channels: track.channels, values: batch.values, base: ts[0], timing: timing,
            format: format)
    }

    static func pop(_ heap: inout [(due: Int64, track: Int)]) {
        heap.swapAt(0, heap.count - 1)
        heap.removeLast()
        if !heap.isEmpty { siftDown(&heap, 0) }
    }

    static func siftDown(_ heap: inout [(due: Int64, track: Int)], _ start: Int) {
        var i = start
        while true {
            let left = 2 * i + 1
            let right = left + 1
            var smallest = i
            if left < heap.count && heap[left].due < heap[smallest].due { smallest = left }
            if right < heap.count && heap[right].due < heap[smallest].due { smallest = right }
            if smallest == i { return }
            heap.swapAt(i, smallest)
            i = smallest
        }
    }
}

extension String {
    func replacingAll(_ target: String, with replacement: String) -> String {
        guard !target.isEmpty, contains(target) else { return self }
        var result = ""
        var rest = self[...]
        while let range = rest.firstRange(of: target) {
            result += rest[..<range.lowerBound]
            result += replacement
            rest = rest[range.upperBound...]
        }
        return result + rest
    }
}
