import TributaryWire

/// Lossless (and int16-quantised) compression of one channel of a chunk, before zstd.
///
/// Float channels are first tried as decimals: if every value is exactly `Float(Double(q) / 10^e)` for integers
/// q and one exponent e ≤ 9 (what sensor firmware printing a fixed number of digits produces), the integers q are
/// coded instead of the float bits (the idea of ALP, Afroozeh et al. 2023). Otherwise the float bit patterns are
/// used as integers. Integers then go through a predictor chosen per block of 256 (previous value, or linear
/// extrapolation from the two previous) and zig-zag. Integer channels are then Rice coded (``RiceCoder``); float
/// bit patterns are byte-shuffled into as many lanes as the largest residual needs, for zstd.
enum ChannelCodec {
    static let blockSize = 256
    static let powers: [Double] = [1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9]

    /// How a channel's integers were derived.
    enum Mode: UInt8 {
        /// q = round(v · 10^e): exact decimal reconstruction.
        case decimal = 0
        /// q = the float's bit pattern.
        case bits = 1
        /// q = round(v / scale), clamped to Int16 (lossy, int16 recordings).
        case int16 = 2
    }

    /// Finds the smallest decimal exponent that reproduces every value exactly, if any.
    static func decimalExponent(_ values: [Float]) -> Int? {
        exponents: for e in 0..<powers.count {
            let p = powers[e]
            for v in values {
                guard v.isFinite, abs(Double(v)) * p < 9.0e15 else { return nil }
                // Through the integer, as the decoder will go: -0 does not survive that and stays in bits mode.
                let q = Int64((Double(v) * p).rounded())
                if Float(Double(q) / p).bitPattern != v.bitPattern { continue exponents }
            }
            return e
        }
        return nil
    }

    /// Encodes `values` (one channel) into `w`.
    static func encode(_ values: [Float], int16Scale: Float?, into w: inout ByteWriter) {
        var integers: [Int64]
        var mode: Mode
        var exponent = 0
        if let scale = int16Scale {
            mode = .int16
            integers = values.map { v in
                let q = (v / scale).rounded()
                return Int64(Swift.max(-32_768, Swift.min(32_767, q.isNaN ? 0 : q)))
            }
        } else if let e = decimalExponent(values) {
            mode = .decimal
            exponent = e
            integers = values.map { Int64((Double($0) * powers[e]).rounded()) }
        } else {
            mode = .bits
            integers = values.map { Int64(Int32(bitPattern: $0.bitPattern)) }
        }
        // Predict block by block; a bit per block says which predictor.
        let blocks = (values.count + blockSize - 1) / blockSize
        var predictors = [UInt8](repeating: 0, count: (blocks + 7) / 8)
        var residuals = [UInt64](repeating: 0, count: values.count)
        var largest: UInt64 = 0
        for b in 0..<blocks {
            let range = (b * blockSize)..<Swift.min(values.count, (b + 1) * blockSize)
            var cost1: UInt64 = 0
            var cost2: UInt64 = 0
            for i in range {
                cost1 &+= zigzag(integers[i] &- previous(integers, i))
                cost2 &+= zigzag(integers[i] &- extrapolated(integers, i))
            }
            let useLinear = cost2 < cost1
            if useLinear { predictors[b >> 3] |= 1 << UInt8(b & 7) }
            for i in range {
                let r = zigzag(integers[i] &- (useLinear ? extrapolated(integers, i) : previous(integers, i)))
                residuals[i] = r
                largest = Swift.max(largest, r)
            }
        }
        // Integers (decimals, int16) are Rice coded; float bit patterns go into as many byte lanes as the largest
        // residual needs (1…8), shuffled for zstd. Lane count 0 marks Rice coding.
        var lanes = 1
        while lanes < 8 && largest >> UInt64(8 * lanes) != 0 { lanes += 1 }
        if mode != .bits { lanes = 0 }
        w.write(mode.rawValue)
        w.write(UInt8(exponent))
        w.write(UInt8(lanes))
        w.write(bytes: predictors)
        if lanes == 0 {
            RiceCoder.encode(residuals, into: &w)
            return
        }
        // Byte shuffle: all first bytes, then all second bytes, …
        for byte in 0..<lanes {
            let shift = UInt64(8 * byte)
            for r in residuals { w.write(UInt8(truncatingIfNeeded: r >> shift)) }
        }
    }

    @inline(__always)
    static func previous(_ x: [Int64], _ i: Int) -> Int64 { i == 0 ? 0 : x[i - 1] }

    @inline(__always)
    static func extrapolated(_ x: [Int64], _ i: Int) -> Int64 {
        i < 2 ? previous(x, i) : 2 &* x[i - 1] &- x[i - 2]
    }

    @inline(__always)
    static func zigzag(_ v: Int64) -> UInt64 { UInt64(bitPattern: (v << 1) ^ (v >> 63)) }

    @inline(__always)
    static func unzigzag(_ v: UInt64) -> Int64 { Int64(bitPattern: v >> 1) ^ -Int64(bitPattern: v & 1) }

    /// Decodes `count` values of one channel; `scale` is the channel's int16 scale if the stream is int16.
    static func decode(_ r: inout ByteReader, count: Int, scale: Float?, into values: inout [Float]) throws(WireError) {
        let modeCode = try r.read(UInt8.self, "channel mode")
        guard let mode = Mode(rawValue: modeCode) else { throw WireError(.malformed, "channel mode \(modeCode)") }
        let exponent = Int(try r.read(UInt8.self, "decimal exponent"))
        guard exponent < powers.count else { throw WireError(.valueOutOfRange, "decimal exponent \(exponent)") }
        let lanes = Int(try r.read(UInt8.self, "lane width"))
        guard (0...8).contains(lanes) else { throw WireError(.malformed, "lane width \(lanes)") }
        if mode == .int16 && scale == nil { throw WireError(.mismatch, "int16 channel in a float32 stream") }
        let blocks = (count + blockSize - 1) / blockSize
        let predictors = try r.readBytes((blocks + 7) / 8, "predictor bits")
        var residuals: [UInt64] = []
        if lanes == 0 {
            try RiceCoder.decode(&r, count: count, into: &residuals)
        } else {
            let shuffled = try r.readBytes(lanes * count, "residuals")
            residuals = [UInt64](repeating: 0, count: count)
            for byte in 0..<lanes {
                let shift = UInt64(8 * byte)
                for i in 0..<count { residuals[i] |= UInt64(shuffled[byte * count + i]) << shift }
            }
        }
        var integers = [Int64](repeating: 0, count: count)
        for i in 0..<count {
            let residual = residuals[i]
            let b = i / blockSize
            let useLinear = predictors[b >> 3] & (1 << UInt8(b & 7)) != 0
            let prediction = useLinear ? extrapolated(integers, i) : previous(integers, i)
            integers[i] = unzigzag(residual) &+ prediction
        }
        values.removeAll(keepingCapacity: true)
        switch mode {
        case .decimal:
            let p = powers[exponent]
            for q in integers { values.append(Float(Double(q) / p)) }
        case .bits:
            for q in integers {
                guard let bits = Int32(exactly: q) else { throw WireError(.valueOutOfRange, "float bits out of range") }
                values.append(Float(bitPattern: UInt32(bitPattern: bits)))
            }
        case .int16:
            for q in integers {
                guard q >= -32_768 && q <= 32_767 else { throw WireError(.valueOutOfRange, "int16 value \(q)") }
                values.append(Float(q) * scale!)
            }
        }
    }
}
