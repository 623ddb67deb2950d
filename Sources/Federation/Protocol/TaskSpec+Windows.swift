public import StreamCore

extension TaskSpec.Data {
    /// The model's input from the features of every channel (`extracted`: feature-major, `channels` per feature):
    /// for each feature in order, the task's channels in order.
    public func select(
        _ extracted: UnsafeBufferPointer<Float>, channels: Int, into input: UnsafeMutableBufferPointer<Float>
    ) {
        for f in 0..<features.count {
            for (i, c) in self.channels.enumerated() {
                input[f * self.channels.count + i] = extracted[f * channels + c]
            }
        }
    }

    /// A window's label: its last frame's label channel, when that is a class index below `classes`; nil for
    /// an unlabelled window (or a task without a label channel).
    public func label(of window: Windower.Window, channels: Int, classes: Int) -> Int? {
        guard let labelChannel else { return nil }
        let last = window.segments.1.count > 0 ? window.segments.1 : window.segments.0
        guard last.count > 0 else { return nil }
        let value = last.values[(last.count - 1) * channels + labelChannel]
        guard value >= 0, value < Float(classes), value == value.rounded() else { return nil }
        return Int(value)
    }
}
