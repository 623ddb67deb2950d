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

    /// Decodes `count` values of one channel into `output[i * stride]` (frame-major, so `output` points at the
    /// channel's first value); `scale` is the channel's int16 scale if the stream is int16. `scratch` is reused
    /// between calls.
    static func decode(
        _ r: inout ByteReader, count: Int, scale: Float?, into output: UnsafeMutablePointer<Float>, stride: Int,
        scratch: inout [UInt64]
    ) throws(WireError) {
        let modeCode = try r.read(UInt8.self, "channel mode")
        guard let mode = Mode(rawValue: modeCode) else { throw WireError(.malformed, "channel mode \(modeCode)") }
        let exponent = Int(try r.read(UInt8.self, "decimal exponent"))
        guard exponent < powers.count else { throw WireError(.valueOutOfRange, "decimal exponent \(exponent)") }
        let lanes = Int(try r.read(UInt8.self, "lane width"))
        guard (0...8).contains(lanes) else { throw WireError(.malformed, "lane width \(lanes)") }
        if mode == .int16 && scale == nil { throw WireError(.mismatch, "int16 channel in a float32 stream") }
        let blocks = (count + blockSize - 1) / blockSize
        let predictors = try r.readBytes((blocks + 7) / 8, "predictor bits")
        if lanes == 0 {
            try RiceCoder.decode(&r, count: count, into: &scratch)
        } else {
            let shuffled = try r.readBytes(lanes * count, "residuals")
            if scratch.count < count { scratch = [UInt64](repeating: 0, count: count) }
            scratch.withUnsafeMutableBufferPointer { residuals in
                let source = shuffled.bindMemory(to: UInt8.self).baseAddress!
                for i in 0..<count { residuals[i] = UInt64(source[i]) }
                for byte in 1..<Swift.max(1, lanes) {
                    let lane = source + byte * count
                    let shift = UInt64(8 * byte)
                    for i in 0..<count { residuals[i] |= UInt64(lane[i]) << shift }
                }
            }
        }
        // Undo the prediction in place (residual → integer), block by block, then convert.
        var failure: WireError?
        scratch.withUnsafeMutableBufferPointer { buffer in
            let values = UnsafeMutableRawPointer(buffer.baseAddress!).assumingMemoryBound(to: Int64.self)
            var x1: Int64 = 0
            var x2: Int64 = 0
            for b in 0..<blocks {
                let end = Swift.min(count, (b + 1) * blockSize)
                let linear = predictors[b >> 3] & (1 << UInt8(b & 7)) != 0
                var i = b * blockSize
                if linear {
                    // The first two values of the stream predict from what exists, as the encoder did.
                    while i < end && i < 2 {
                        let prediction = i == 0 ? 0 : x1
                        let q = unzigzag(UInt64(bitPattern: values[i])) &+ prediction
                        values[i] = q
                        x2 = x1
                        x1 = q
                        i += 1
                    }
                    while i < end {
                        let q = unzigzag(UInt64(bitPattern: values[i])) &+ (2 &* x1 &- x2)
                        values[i] = q
                        x2 = x1
                        x1 = q
                        i += 1
                    }
                } else {
                    while i < end {
                        let q = unzigzag(UInt64(bitPattern: values[i])) &+ x1
                        values[i] = q
                        x2 = x1
                        x1 = q
                        i += 1
                    }
                }
            }
            switch mode {
            case .decimal:
                let p = powers[exponent]
                for i in 0..<count { output[i * stride] = Float(Double(values[i]) / p) }
            case .bits:
                for i in 0..<count {
                    let q = values[i]
                    guard q >= Int64(Int32.min) && q <= Int64(Int32.max) else {
                        failure = WireError(.valueOutOfRange, "float bits out of range")
                        return
                    }
                    output[i * stride] = Float(bitPattern: UInt32(truncatingIfNeeded: q))
                }
            case .int16:
                let scale = scale!
                for i in 0..<count {
                    let q = values[i]
                    guard q >= -32_768 && q <= 32_767 else {
                        failure = WireError(.valueOutOfRange, "int16 value \(q)")
                        return
                    }
                    output[i * stride] = Float(q) * scale
                }
            }
        }
        if let failure { throw failure }
    }
}
