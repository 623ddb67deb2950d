/// Turns a window of interleaved frames into a feature vector: for each configured ``Feature``, one value per
/// channel, feature-major (`[f0c0, f0c1, …, f1c0, …]`). Scratch space is kept between windows, so extracting
/// allocates nothing once warm.
public struct FeatureExtractor: Sendable {
    /// Channels per frame.
    public let channels: Int
    /// Features, in output order.
    public let features: [Feature]
    @usableFromInline var summary: StreamSummary
    @usableFromInline var scratch: [Float] = []
    let needsSecondPass: Bool

    /// Creates an extractor.
    public init(channels: Int, features: [Feature]) {
        precondition(!features.isEmpty, "at least one feature")
        self.channels = channels
        self.features = features
        summary = StreamSummary(channels: channels)
        needsSecondPass = features.contains { feature in
            switch feature {
            case .zeroCrossingRate, .quantile: true
            default: false
            }
        }
    }

    /// Length of a feature vector.
    public var dimension: Int { features.count * channels }

    /// Names of the vector's entries, such as `mean[0]`, `std[2]`.
    public var names: [String] {
        features.flatMap { feature in (0..<channels).map { "\(feature)[\($0)]" } }
    }

    /// Computes the features of the frames in `segments` (up to two runs of one window) into `output`
    /// (``dimension`` floats).
    public mutating func extract(
        _ segments: (FrameRing.Segment, FrameRing.Segment), into output: UnsafeMutableBufferPointer<Float>
    ) {
        precondition(output.count >= dimension, "output is smaller than the feature dimension")
        summary.reset()
        summary.add(segments.0)
        summary.add(segments.1)
        let frames = segments.0.count + segments.1.count
        for (f, feature) in features.enumerated() {
            for c in 0..<channels {
                let stats = summary.stats[c]
                let value: Double
                switch feature {
                case .mean: value = stats.mean
                case .std: value = stats.standardDeviation
                case .min: value = frames > 0 ? Double(stats.min) : 0
                case .max: value = frames > 0 ? Double(stats.max) : 0
                case .rms: value = stats.rms
                case .energy: value = frames > 0 ? stats.sumOfSquares / Double(frames) : 0
                case .zeroCrossingRate: value = zeroCrossingRate(segments, channel: c, mean: Float(stats.mean))
                case .quantile(let p): value = quantile(segments, channel: c, fraction: p)
                }
                output[f * channels + c] = Float(value)
            }
        }
    }

    /// Computes the features into a new array.
    public mutating func extract(_ segments: (FrameRing.Segment, FrameRing.Segment)) -> [Float] {
        [Float](unsafeUninitializedCapacity: dimension) { buffer, count in
            extract(segments, into: buffer)
            count = dimension
        }
    }

    func zeroCrossingRate(_ segments: (FrameRing.Segment, FrameRing.Segment), channel: Int, mean: Float) -> Double {
        var crossings = 0
        var pairs = 0
        var previous: Float?
        for segment in [segments.0, segments.1] {
            var i = channel
            while i < segment.values.count {
                let deviation = segment.values[i] - mean
                if let p = previous {
                    pairs += 1
                    if (p < 0 && deviation >= 0) || (p >= 0 && deviation < 0) { crossings += 1 }
                }
                previous = deviation
                i += channels
            }
        }
        return pairs > 0 ? Double(crossings) / Double(pairs) : 0
    }

    mutating func quantile(
        _ segments: (FrameRing.Segment, FrameRing.Segment), channel: Int, fraction: Double
    ) -> Double {
        scratch.removeAll(keepingCapacity: true)
        for segment in [segments.0, segments.1] {
            var i = channel
            while i < segment.values.count {
                scratch.append(segment.values[i])
                i += channels
            }
        }
        guard !scratch.isEmpty else { return 0 }
        scratch.sort()
        let index = Swift.min(
            scratch.count - 1, Swift.max(0, Int((fraction * Double(scratch.count - 1)).rounded(.down))))
        return Double(scratch[index])
    }
}
