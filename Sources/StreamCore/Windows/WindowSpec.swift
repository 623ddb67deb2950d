/// How a stream is cut into windows: a length and a hop, both counted in frames or both in time.
///
/// `hop == length` gives tumbling windows, `hop < length` sliding (overlapping) windows, `hop > length` windows
/// with gaps between them.
public struct WindowSpec: Sendable, Hashable {
    /// A length or hop.
    public enum Extent: Sendable, Hashable {
        /// A number of frames.
        case frames(Int)
        /// A duration in the stream's time-stamp unit (nanoseconds for Tributary's sensor frames).
        case time(Int64)
    }

    /// Window length.
    public let length: Extent
    /// Distance between the starts of consecutive windows.
    public let hop: Extent

    /// Why a window specification is invalid.
    public struct Invalid: Error, Sendable, CustomStringConvertible {
        /// Explanation.
        public var description: String
    }

    /// Creates a specification; length and hop must be positive and of the same kind.
    public init(length: Extent, hop: Extent) throws(Invalid) {
        switch (length, hop) {
        case (.frames(let l), .frames(let h)):
            guard l > 0, h > 0 else { throw Invalid(description: "window length and hop must be positive") }
        case (.time(let l), .time(let h)):
            guard l > 0, h > 0 else { throw Invalid(description: "window length and hop must be positive") }
        default:
            throw Invalid(description: "window length and hop must both be frames or both be time")
        }
        self.length = length
        self.hop = hop
    }

    /// Tumbling windows of `frames` frames.
    public static func tumbling(frames: Int) throws(Invalid) -> WindowSpec {
        try WindowSpec(length: .frames(frames), hop: .frames(frames))
    }

    /// Sliding windows of `frames` frames, starting every `hop` frames.
    public static func sliding(frames: Int, hop: Int) throws(Invalid) -> WindowSpec {
        try WindowSpec(length: .frames(frames), hop: .frames(hop))
    }
}
