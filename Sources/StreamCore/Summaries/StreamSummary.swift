/// Per-channel summaries of a multi-channel stream: ``ChannelStats`` for every channel, plus an optional
/// exponentially weighted moving average and optional quantile sketches.
///
/// Samples arrive interleaved, frame after frame (`c0 c1 … c0 c1 …`), as they sit in a ``FrameRing``. The
/// statistics use a SIMD block kernel; EWMA and sketches, when enabled, cost extra per sample.
public struct StreamSummary: Sendable {
    /// Number of channels.
    public let channels: Int
    /// Statistics per channel.
    public internal(set) var stats: [ChannelStats]
    /// EWMA smoothing factor in (0, 1], or nil when off.
    public let ewmaAlpha: Double?
    /// EWMA per channel (meaningful once a sample was seen).
    public internal(set) var ewma: [Double]
    /// Quantile sketches per channel, when enabled.
    public internal(set) var sketches: [KLLSketch]?
    @usableFromInline var accumulator: BlockAccumulator

    /// Creates an empty summary.
    /// - Parameters:
    ///   - ewmaAlpha: smoothing factor of the moving average (e.g. 0.01), or nil for none.
    ///   - sketchK: KLL parameter for per-channel quantile sketches (e.g. 200), or nil for none.
    public init(channels: Int, ewmaAlpha: Double? = nil, sketchK: Int? = nil, seed: UInt64 = 0x5EED) {
        precondition(channels > 0, "at least one channel")
        precondition(ewmaAlpha.map { $0 > 0 && $0 <= 1 } ?? true, "EWMA alpha must be in (0, 1]")
        self.channels = channels
        stats = Array(repeating: ChannelStats(), count: channels)
        self.ewmaAlpha = ewmaAlpha
        ewma = Array(repeating: 0, count: channels)
        sketches = sketchK.map { k in (0..<channels).map { KLLSketch(k: k, seed: seed &+ UInt64($0)) } }
        accumulator = BlockAccumulator(channels: channels)
    }

    /// Adds `frames` frames of interleaved values.
    public mutating func add(_ values: UnsafeBufferPointer<Float>, frames: Int) {
        precondition(values.count >= frames * channels, "fewer values than frames × channels")
        guard frames > 0, let base = values.baseAddress else { return }
        let seenBefore = stats[0].count > 0
        accumulator.add(base, frames: frames, to: &stats)
        if let alpha = ewmaAlpha {
            for channel in 0..<channels {
                var e = seenBefore ? ewma[channel] : Double(base[channel])
                var index = channel
                let end = frames * channels
                while index < end {
                    e += alpha * (Double(base[index]) - e)
                    index += channels
                }
                ewma[channel] = e
            }
        }
        if sketches != nil {
            for channel in 0..<channels {
                sketches![channel].update(strided: base + channel, count: frames, stride: channels)
            }
        }
    }

    /// Adds a ring segment's frames.
    public mutating func add(_ segment: FrameRing.Segment) {
        add(UnsafeBufferPointer(segment.values), frames: segment.count)
    }

    /// Folds in a summary of other frames of the same channels. Statistics and sketches merge exactly; the EWMA
    /// is order dependent and keeps this summary's value unless this one is empty.
    public mutating func merge(_ other: StreamSummary) {
        precondition(other.channels == channels, "channel counts differ")
        let wasEmpty = stats[0].count == 0
        for channel in 0..<channels { stats[channel].merge(other.stats[channel]) }
        if wasEmpty { ewma = other.ewma }
        if let theirs = other.sketches, sketches != nil {
            for channel in 0..<channels { sketches![channel].merge(theirs[channel]) }
        }
    }

    /// Forgets everything (keeps configuration).
    public mutating func reset() {
        for i in stats.indices { stats[i] = ChannelStats() }
        for i in ewma.indices { ewma[i] = 0 }
        if let current = sketches { sketches = current.map { KLLSketch(k: $0.k, seed: $0.seed &+ 1) } }
    }
}
