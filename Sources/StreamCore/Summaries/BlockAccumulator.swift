/// The fast path behind ``StreamSummary``: accumulates interleaved multi-channel samples in SIMD lanes, a block
/// at a time, and hands each channel's block statistics to Welford's merge.
///
/// Interleaved samples `s0c0 s0c1 … s0c(C-1) s1c0 …` are read as consecutive 8-lane vectors. After
/// `P = lcm(C, 8) / 8` vectors the lane-to-channel pattern repeats, so `P` accumulators per statistic keep every
/// lane on one channel. Each lane sums the sample minus a per-channel shift (the running mean) and its square in
/// `Float`, over at most `blockPeriods` periods, which keeps rounding error below ~1e-5 relative; the block is
/// then folded per channel into `Double` and merged. No allocation after initialisation.
@usableFromInline
struct BlockAccumulator: Sendable {
    @usableFromInline static let blockPeriods = 64

    @usableFromInline let channels: Int
    /// Vectors per period.
    @usableFromInline let period: Int
    /// Scratch: shift, sum, sum of squares, min, max — `period` vectors each.
    @usableFromInline var lanes: [SIMD8<Float>]

    @usableFromInline
    init(channels: Int) {
        self.channels = channels
        period = channels / Self.gcd(channels, 8)
        lanes = [SIMD8<Float>](repeating: .zero, count: 5 * period)
    }

    @usableFromInline
    static func gcd(_ a: Int, _ b: Int) -> Int { b == 0 ? a : gcd(b, a % b) }

    /// Adds `frames` whole frames from `values` (interleaved, `frames × channels` floats) to `stats`.
    @inlinable
    mutating func add(_ values: UnsafePointer<Float>, frames: Int, to stats: inout [ChannelStats]) {
        let floatsPerPeriod = period * 8
        let totalFloats = frames * channels
        var done = 0
        while totalFloats - done >= floatsPerPeriod {
            let periods = Swift.min(Self.blockPeriods, (totalFloats - done) / floatsPerPeriod)
            accumulateBlock(values + done, periods: periods, stats: &stats)
            done += periods * floatsPerPeriod
        }
        // The tail (less than one period) sample by sample.
        var index = done
        while index < totalFloats {
            stats[index % channels].add(values[index])
            index += 1
        }
    }

    @inlinable
    mutating func accumulateBlock(_ values: UnsafePointer<Float>, periods: Int, stats: inout [ChannelStats]) {
        let p = period
        let c = channels
        lanes.withUnsafeMutableBufferPointer { lane in
            let shift = lane.baseAddress!
            let sum = shift + p
            let squares = sum + p
            let low = squares + p
            let high = low + p
            for j in 0..<p {
                var s = SIMD8<Float>()
                for l in 0..<8 {
                    let channel = (j * 8 + l) % c
                    s[l] = stats[channel].count > 0 ? Float(stats[channel].mean) : values[channel]
                }
                shift[j] = s
                sum[j] = .zero
                squares[j] = .zero
                low[j] = SIMD8(repeating: .infinity)
                high[j] = SIMD8(repeating: -.infinity)
            }
            let raw = UnsafeRawPointer(values)
            switch p {
            case 1: Self.kernel1(raw, periods: periods, shift[0], &sum[0], &squares[0], &low[0], &high[0])
            case 3: Self.kernel3(raw, periods: periods, shift, sum, squares, low, high)
            default: Self.kernelAny(raw, period: p, periods: periods, shift, sum, squares, low, high)
            }
            // Fold lanes into per-channel block statistics, then merge.
            let perChannel = periods * p * 8 / c
            for channel in 0..<c {
                var s1: Double = 0
                var s2: Double = 0
                var mn = Float.infinity
                var mx = -Float.infinity
                var k: Double = 0
                var index = channel
                while index < p * 8 {
                    let j = index / 8
                    let l = index % 8
                    s1 += Double(sum[j][l])
                    s2 += Double(squares[j][l])
                    mn = Swift.min(mn, low[j][l])
                    mx = Swift.max(mx, high[j][l])
                    k = Double(shift[j][l])
                    index += c
                }
                let n = Double(perChannel)
                let blockMean = s1 / n
                var block = ChannelStats()
                block.count = perChannel
                block.mean = k + blockMean
                block.m2 = Swift.max(0, s2 - s1 * blockMean)
                block.min = mn
                block.max = mx
                block.sumOfSquares = s2 + 2 * k * s1 + n * k * k
                stats[channel].merge(block)
            }
        }
    }

    @inlinable @inline(__always)
    static func kernel1(
        _ raw: UnsafeRawPointer, periods: Int, _ shift: SIMD8<Float>, _ sum: inout SIMD8<Float>,
        _ squares: inout SIMD8<Float>, _ low: inout SIMD8<Float>, _ high: inout SIMD8<Float>
    ) {
        // Two independent chains hide the add latency.
        var s0 = sum
        var q0 = squares
        var s1 = SIMD8<Float>.zero
        var q1 = SIMD8<Float>.zero
        var lo = low
        var hi = high
        var i = 0
        while i + 1 < periods {
            let x0 = raw.loadUnaligned(fromByteOffset: i * 32, as: SIMD8<Float>.self)
            let x1 = raw.loadUnaligned(fromByteOffset: i * 32 + 32, as: SIMD8<Float>.self)
            let d0 = x0 - shift
            let d1 = x1 - shift
            s0 += d0
            s1 += d1
            q0 += d0 * d0
            q1 += d1 * d1
            lo = minimum(lo, minimum(x0, x1))
            hi = maximum(hi, maximum(x0, x1))
            i += 2
        }
        if i < periods {
            let x = raw.loadUnaligned(fromByteOffset: i * 32, as: SIMD8<Float>.self)
            let d = x - shift
            s0 += d
            q0 += d * d
            lo = minimum(lo, x)
            hi = maximum(hi, x)
        }
        sum = s0 + s1
        squares = q0 + q1
        low = lo
        high = hi
    }

    @inlinable @inline(__always)
    static func kernel3(
        _ raw: UnsafeRawPointer, periods: Int, _ shift: UnsafeMutablePointer<SIMD8<Float>>,
        _ sum: UnsafeMutablePointer<SIMD8<Float>>, _ squares: UnsafeMutablePointer<SIMD8<Float>>,
        _ low: UnsafeMutablePointer<SIMD8<Float>>, _ high: UnsafeMutablePointer<SIMD8<Float>>
    ) {
        let k0 = shift[0]
        let k1 = shift[1]
        let k2 = shift[2]
        var s0 = sum[0]
        var s1 = sum[1]
        var s2 = sum[2]
        var q0 = squares[0]
        var q1 = squares[1]
        var q2 = squares[2]
        var l0 = low[0]
        var l1 = low[1]
        var l2 = low[2]
        var h0 = high[0]
        var h1 = high[1]
        var h2 = high[2]
        for i in 0..<periods {
            let base = i * 96
            let x0 = raw.loadUnaligned(fromByteOffset: base, as: SIMD8<Float>.self)
            let x1 = raw.loadUnaligned(fromByteOffset: base + 32, as: SIMD8<Float>.self)
            let x2 = raw.loadUnaligned(fromByteOffset: base + 64, as: SIMD8<Float>.self)
            let d0 = x0 - k0
            let d1 = x1 - k1
            let d2 = x2 - k2
            s0 += d0
            s1 += d1
            s2 += d2
            q0 += d0 * d0
            q1 += d1 * d1
            q2 += d2 * d2
            l0 = minimum(l0, x0)
            l1 = minimum(l1, x1)
            l2 = minimum(l2, x2)
            h0 = maximum(h0, x0)
            h1 = maximum(h1, x1)
            h2 = maximum(h2, x2)
        }
        sum[0] = s0
        sum[1] = s1
        sum[2] = s2
        squares[0] = q0
        squares[1] = q1
        squares[2] = q2
        low[0] = l0
        low[1] = l1
        low[2] = l2
        high[0] = h0
        high[1] = h1
        high[2] = h2
    }

    @inlinable @inline(__always)
    static func kernelAny(
        _ raw: UnsafeRawPointer, period: Int, periods: Int, _ shift: UnsafeMutablePointer<SIMD8<Float>>,
        _ sum: UnsafeMutablePointer<SIMD8<Float>>, _ squares: UnsafeMutablePointer<SIMD8<Float>>,
        _ low: UnsafeMutablePointer<SIMD8<Float>>, _ high: UnsafeMutablePointer<SIMD8<Float>>
    ) {
        for i in 0..<periods {
            for j in 0..<period {
                let x = raw.loadUnaligned(fromByteOffset: (i * period + j) * 32, as: SIMD8<Float>.self)
                let d = x - shift[j]
                sum[j] += d
                squares[j] += d * d
                low[j] = minimum(low[j], x)
                high[j] = maximum(high[j], x)
            }
        }
    }
}

/// Lane-wise minimum that compiles to one vector instruction (the standard library's `pointwiseMin` goes lane by
/// lane to order NaN; sensor data reaching here is finite).
@inlinable @inline(__always)
func minimum(_ a: SIMD8<Float>, _ b: SIMD8<Float>) -> SIMD8<Float> { a.replacing(with: b, where: b .< a) }

/// Lane-wise maximum; see ``minimum(_:_:)``.
@inlinable @inline(__always)
func maximum(_ a: SIMD8<Float>, _ b: SIMD8<Float>) -> SIMD8<Float> { a.replacing(with: b, where: b .> a) }
