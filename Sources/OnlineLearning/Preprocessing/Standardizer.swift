/// Online standardisation of input features: a running mean and variance per feature, applied as
/// (x − mean)/√(variance + ε). Its state is mergeable (Chan's formula) and part of what devices federate, so
/// every device scales features alike.
///
/// Cheap per sample: samples accumulate in `Float` lanes around the current mean (a "block"), and blocks fold
/// into the `Double` statistics with Chan's formula — after every sample for the first 256, then every 128. The
/// offsets and scales ``transform(_:into:)`` uses are refreshed at each fold. When training through
/// ``transformAndUpdate(_:into:)``, every sample counts for the first 4096; after that every 4th does (the
/// statistics of a stationary stream are estimated as well from a quarter of it, and standardising stays a few
/// operations per feature). All of it is deterministic.
public struct Standardizer: Sendable, Hashable {
    /// Features.
    public let dimension: Int
    /// Samples folded into the statistics.
    public private(set) var foldedCount: Int = 0
    /// Running means.
    public private(set) var mean: [Double]
    /// Running sums of squared deviations.
    public private(set) var m2: [Double]
    /// Added to the variance before the square root.
    public var epsilon: Double = 1e-8 {
        didSet { refresh() }
    }
    /// Whether ``update(_:)`` changes the state (off once a global standardizer was adopted and frozen).
    public var frozen = false
    /// The offsets ``transform(_:into:)`` subtracts (the mean at the last fold); also the block's shift.
    public private(set) var offset: [Float]
    /// The scales ``transform(_:into:)`` multiplies by.
    public private(set) var scale: [Float]
    /// The current block: samples, and sums of (x − offset) and of its square.
    public private(set) var blockCount = 0
    /// See ``blockCount``.
    public private(set) var blockSum: [Float]
    /// See ``blockCount``.
    public private(set) var blockSquares: [Float]
    /// Samples offered to ``transformAndUpdate(_:into:)`` (for its every-4th-sample rule).
    public private(set) var offered = 0

    /// A standardizer that has seen nothing (it passes features through until it has).
    public init(dimension: Int) {
        self.dimension = dimension
        mean = Array(repeating: 0, count: dimension)
        m2 = Array(repeating: 0, count: dimension)
        offset = Array(repeating: 0, count: dimension)
        scale = Array(repeating: 1, count: dimension)
        blockSum = Array(repeating: 0, count: dimension)
        blockSquares = Array(repeating: 0, count: dimension)
    }

    /// A standardizer with the given statistics (adopting a federated one).
    public init(count: Int, mean: [Double], m2: [Double]) {
        precondition(mean.count == m2.count, "mean and m2 differ in length")
        self.init(dimension: mean.count)
        foldedCount = count
        self.mean = mean
        self.m2 = m2
        refresh()
    }

    /// A standardizer with its full state (restoring saved state exactly).
    public init(
        count: Int, mean: [Double], m2: [Double], offset: [Float], scale: [Float], blockCount: Int,
        blockSum: [Float], blockSquares: [Float], offered: Int = 0
    ) {
        let d = mean.count
        precondition(
            [m2.count, offset.count, scale.count, blockSum.count, blockSquares.count].allSatisfy { $0 == d },
            "state arrays differ in length")
        dimension = d
        foldedCount = count
        self.mean = mean
        self.m2 = m2
        self.offset = offset
        self.scale = scale
        self.blockCount = blockCount
        self.blockSum = blockSum
        self.blockSquares = blockSquares
        self.offered = offered
    }

    /// Samples seen (folded and in the current block).
    public var count: Int { foldedCount + blockCount }

    /// Per-feature population variance (of folded samples).
    public var variance: [Double] { m2.map { foldedCount > 0 ? $0 / Double(foldedCount) : 0 } }

    /// Counts one sample (unless frozen).
    public mutating func update(_ x: UnsafePointer<Float>) {
        if frozen { return }
        let d = dimension
        offset.withUnsafeBufferPointer { o in
            blockSum.withUnsafeMutableBufferPointer { s in
                blockSquares.withUnsafeMutableBufferPointer { q in
                    let input = UnsafeRawPointer(x)
                    let shift = UnsafeRawPointer(o.baseAddress!)
                    let sums = UnsafeMutableRawPointer(s.baseAddress!)
                    let squares = UnsafeMutableRawPointer(q.baseAddress!)
                    var i = 0
                    while i + 8 <= d {
                        let delta =
                            input.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
                            - shift.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
                        let sum = sums.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self) + delta
                        let square = squares.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self) + delta * delta
                        sums.storeBytes(of: sum, toByteOffset: i * 4, as: SIMD8<Float>.self)
                        squares.storeBytes(of: square, toByteOffset: i * 4, as: SIMD8<Float>.self)
                        i += 8
                    }
                    while i < d {
                        let delta = x[i] - o[i]
                        s[i] += delta
                        q[i] += delta * delta
                        i += 1
                    }
                }
            }
        }
        blockCount += 1
        if foldedCount < 256 || blockCount == 128 { fold() }
    }

    /// Folds the current block into the statistics and refreshes offsets and scales.
    public mutating func fold() {
        guard blockCount > 0 else { return }
        let nb = Double(blockCount)
        let total = Double(foldedCount + blockCount)
        for i in 0..<dimension {
            let sum = Double(blockSum[i])
            let blockMean = Double(offset[i]) + sum / nb
            let blockM2 = Swift.max(0, Double(blockSquares[i]) - sum * sum / nb)
            if foldedCount == 0 {
                mean[i] = blockMean
                m2[i] = blockM2
            } else {
                let delta = blockMean - mean[i]
                mean[i] += delta * nb / total
                m2[i] += blockM2 + delta * delta * Double(foldedCount) * nb / total
            }
            blockSum[i] = 0
            blockSquares[i] = 0
        }
        foldedCount += blockCount
        blockCount = 0
        refresh()
    }

    /// Recomputes the offsets and scales from the statistics (with no block pending).
    mutating func refresh() {
        guard foldedCount > 1 else {
            for i in 0..<dimension {
                offset[i] = foldedCount == 1 ? Float(mean[i]) : 0
                scale[i] = 1
            }
            return
        }
        let n = Double(foldedCount)
        for i in 0..<dimension {
            offset[i] = Float(mean[i])
            scale[i] = Float(1 / (m2[i] / n + epsilon).squareRoot())
        }
    }

    /// Writes the standardised `x` into `output` (with the statistics before `x`), then counts `x` — the same
    /// result as ``transform(_:into:)`` after ``update(_:)`` would give with one fewer sample, in one pass.
    public mutating func transformAndUpdate(_ x: UnsafePointer<Float>, into output: UnsafeMutablePointer<Float>) {
        offered &+= 1
        if offered > 4096 && offered & 3 != 0 || frozen {
            transform(x, into: output)
            return
        }
        if foldedCount <= 1 {
            transform(x, into: output)
            update(x)
            return
        }
        let d = dimension
        offset.withUnsafeBufferPointer { o in
            scale.withUnsafeBufferPointer { sc in
                blockSum.withUnsafeMutableBufferPointer { s in
                    blockSquares.withUnsafeMutableBufferPointer { q in
                        let input = UnsafeRawPointer(x)
                        let shift = UnsafeRawPointer(o.baseAddress!)
                        let scales = UnsafeRawPointer(sc.baseAddress!)
                        let sums = UnsafeMutableRawPointer(s.baseAddress!)
                        let squares = UnsafeMutableRawPointer(q.baseAddress!)
                        let out = UnsafeMutableRawPointer(output)
                        var i = 0
                        while i + 8 <= d {
                            let delta =
                                input.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
                                - shift.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
                            out.storeBytes(
                                of: delta * scales.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self),
                                toByteOffset: i * 4, as: SIMD8<Float>.self)
                            let sum = sums.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self) + delta
                            let square =
                                squares.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
                                + delta * delta
                            sums.storeBytes(of: sum, toByteOffset: i * 4, as: SIMD8<Float>.self)
                            squares.storeBytes(of: square, toByteOffset: i * 4, as: SIMD8<Float>.self)
                            i += 8
                        }
                        while i < d {
                            let delta = x[i] - o[i]
                            output[i] = delta * sc[i]
                            s[i] += delta
                            q[i] += delta * delta
                            i += 1
                        }
                    }
                }
            }
        }
        blockCount += 1
        if foldedCount < 256 || blockCount == 128 { fold() }
    }

    /// Writes the standardised `x` into `output`.
    public func transform(_ x: UnsafePointer<Float>, into output: UnsafeMutablePointer<Float>) {
        guard foldedCount > 1 else {
            output.update(from: x, count: dimension)
            return
        }
        offset.withUnsafeBufferPointer { o in
            scale.withUnsafeBufferPointer { s in
                let d = dimension
                let input = UnsafeRawPointer(x)
                let offsets = UnsafeRawPointer(o.baseAddress!)
                let scales = UnsafeRawPointer(s.baseAddress!)
                let out = UnsafeMutableRawPointer(output)
                var i = 0
                while i + 8 <= d {
                    let v =
                        (input.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
                            - offsets.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self))
                        * scales.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
                    out.storeBytes(of: v, toByteOffset: i * 4, as: SIMD8<Float>.self)
                    i += 8
                }
                while i < d {
                    output[i] = (x[i] - o[i]) * s[i]
                    i += 1
                }
            }
        }
    }

    /// Folds in another standardizer's statistics (samples from another device); pending blocks first.
    public mutating func merge(_ other: Standardizer) {
        precondition(other.dimension == dimension, "dimensions differ")
        var other = other
        other.fold()
        fold()
        guard other.foldedCount > 0 else { return }
        if foldedCount == 0 {
            foldedCount = other.foldedCount
            mean = other.mean
            m2 = other.m2
        } else {
            let total = Double(foldedCount + other.foldedCount)
            for i in 0..<dimension {
                let delta = other.mean[i] - mean[i]
                mean[i] += delta * Double(other.foldedCount) / total
                m2[i] += other.m2[i] + delta * delta * Double(foldedCount) * Double(other.foldedCount) / total
            }
            foldedCount += other.foldedCount
        }
        refresh()
    }
}
