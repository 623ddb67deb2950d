import Recording

/// One stream of one recording, played as one device: yields batches of frames across chunk boundaries,
/// looping with time stamps that keep increasing.
final class PlaybackTrack {
    let recording: RecordingReader
    let stream: RecordingStream
    let device: String
    let topic: String
    let chunks: [ChunkInfo]
    /// Total loops (nil: forever).
    let loops: Int?
    /// First time stamp of the recording's stream.
    let first: Int64
    /// How far time stamps move on each loop: the stream's span plus one frame period.
    let span: Int64
    /// Added to every time stamp (rebasing to the wall clock), besides the loop shift.
    var shift: Int64 = 0
    /// Label events turned into an extra channel, when asked for.
    let labelEvents: [LabelEvent]?

    var chunkIndex = 0
    var loop = 0
    var timestamps: [Int64] = []
    var values: [Float] = []
    var position = 0
    var sequence: UInt32 = 0
    var eventCursor = 0

    /// Channels per published frame.
    var channels: Int { stream.channels + (labelEvents == nil ? 0 : 1) }

    init(
        recording: RecordingReader, stream: RecordingStream, device: String, topic: String, loops: Int?,
        labelEventsAsChannel: Bool
    ) throws(ReplayError) {
        self.recording = recording
        self.stream = stream
        self.device = device
        self.topic = topic
        self.loops = loops
        chunks = recording.frameChunks(stream: stream.id)
        guard let range = recording.timeRange(stream: stream.id), !chunks.isEmpty else {
            throw ReplayError(.invalidInput, "\(recording.path): stream \(stream.name) has no frames")
        }
        first = range.lowerBound
        let frames = recording.frameCount(stream: stream.id)
        let period =
            stream.sampleRate > 0
            ? Int64((1e9 / stream.sampleRate).rounded())
            : frames > 1 ? (range.upperBound - range.lowerBound) / Int64(frames - 1) : 1
        span = range.upperBound - range.lowerBound + Swift.max(period, 1)
        if labelEventsAsChannel {
            do { labelEvents = try recording.labels(stream: stream.id).sorted { $0.start < $1.start } } catch {
                throw ReplayError(error)
            }
        } else {
            labelEvents = nil
        }
    }

    /// Frames this track will publish (nil when looping forever).
    var totalFrames: Int? { loops.map { $0 * recording.frameCount(stream: stream.id) } }

    /// Data time (ns since the track's first frame, loops included) of the last frame of the next batch, or nil
    /// when the track is done.
    func nextDue(batchFrames: Int) throws(ReplayError) -> Int64? {
        guard try ensureLoaded() else { return nil }
        let index = Swift.min(position + batchFrames, timestamps.count) - 1
        return timestamps[index] - first + Int64(loop) * span
    }

    /// Loads the next chunk when the current one is used up; false at the end.
    func ensureLoaded() throws(ReplayError) -> Bool {
        while position >= timestamps.count {
            if chunkIndex == chunks.count {
                loop += 1
                if let loops, loop >= loops { return false }
                chunkIndex = 0
                eventCursor = 0
            }
            do { (timestamps, values) = try recording.frames(chunks[chunkIndex]) } catch { throw ReplayError(error) }
            chunkIndex += 1
            position = 0
        }
        return true
    }

    /// Fills `batch` with up to `maxFrames` frames; returns false when the track is done.
    func next(maxFrames: Int, into batch: inout Batch) throws(ReplayError) -> Bool {
        batch.timestamps.removeAll(keepingCapacity: true)
        batch.values.removeAll(keepingCapacity: true)
        let sourceChannels = stream.channels
        while batch.timestamps.count < maxFrames, try ensureLoaded() {
            let take = Swift.min(maxFrames - batch.timestamps.count, timestamps.count - position)
            let offset = Int64(loop) * span + shift
            for i in position..<(position + take) { batch.timestamps.append(timestamps[i] &+ offset) }
            if let labelEvents {
                for i in position..<(position + take) {
                    batch.values += values[(i * sourceChannels)..<((i + 1) * sourceChannels)]
                    batch.values.append(label(at: timestamps[i], labelEvents))
                }
            } else {
                batch.values += values[(position * sourceChannels)..<((position + take) * sourceChannels)]
            }
            position += take
            // Stop at a loop boundary so one batch never holds a jump in time.
            if position == timestamps.count && chunkIndex == chunks.count { break }
        }
        return !batch.timestamps.isEmpty
    }

    /// The label id of the event covering `t`, or -1.
    func label(at t: Int64, _ events: [LabelEvent]) -> Float {
        while eventCursor < events.count && events[eventCursor].end <= t { eventCursor += 1 }
        var i = eventCursor
        while i < events.count && events[i].start <= t {
            if t < events[i].end { return Float(events[i].label) }
            i += 1
        }
        return -1
    }

    /// A batch being assembled.
    struct Batch {
        var timestamps: [Int64] = []
        var values: [Float] = []
    }
}
