/// The most recent labelled feature windows, kept for round training (or hold-out evaluation): a fixed
/// capacity, oldest dropped first.
struct WindowBuffer: Sendable {
    let capacity: Int
    let dimension: Int
    var features: [Float] = []
    var labels: [Int] = []
    var start = 0
    /// Windows held.
    private(set) var count = 0

    init(capacity: Int, dimension: Int) {
        self.capacity = capacity
        self.dimension = dimension
        features.reserveCapacity(capacity * dimension)
        labels.reserveCapacity(capacity)
    }

    mutating func append(_ x: UnsafeBufferPointer<Float>, label: Int) {
        if count < capacity {
            features.append(contentsOf: x)
            labels.append(label)
            count += 1
        } else {
            let slot = start
            for j in 0..<dimension { features[slot * dimension + j] = x[j] }
            labels[slot] = label
            start = (start + 1) % capacity
        }
    }

    /// Window `i`, 0 = oldest.
    func window<R>(_ i: Int, _ body: (UnsafeBufferPointer<Float>, Int) -> R) -> R {
        let slot = (start + i) % Swift.max(count, 1)
        return features.withUnsafeBufferPointer { all in
            body(UnsafeBufferPointer(rebasing: all[(slot * dimension)..<((slot + 1) * dimension)]), labels[slot])
        }
    }
}
