import TributaryMath
import TributaryWire

/// Quantising, writing and reading the value section of a sparse body.
enum ValueCodec {
    /// The values as they will be decoded (what the receiver gets), for error feedback.
    static func quantized(_ values: [Float], as encoding: ValueEncoding, random: inout SplitMix64, stochastic: Bool)
        -> (wire: QuantizedValues, decoded: [Float])
    {
        switch encoding {
        case .float32:
            return (.float32(values), values)
        case .float16:
            let halves = values.map { Float16(clamping: $0) }
            return (.float16(halves), halves.map(Float.init))
        case .int8:
            let block = UpdateFormat.int8BlockSize
            var scales: [Float] = []
            var codes: [Int8] = []
            var decoded: [Float] = []
            codes.reserveCapacity(values.count)
            decoded.reserveCapacity(values.count)
            var start = 0
            while start < values.count {
                let end = Swift.min(values.count, start + block)
                var largest: Float = 0
                for i in start..<end { largest = Swift.max(largest, abs(values[i])) }
                let scale = largest > 0 ? largest / 127 : 1
                scales.append(scale)
                for i in start..<end {
                    let x = values[i] / scale
                    var q = x.rounded(.down)
                    // Stochastic rounding keeps the quantiser unbiased; nearest rounding keeps its error smallest.
                    if stochastic { q += Float(random.unit()) < x - q ? 1 : 0 } else { q = x.rounded() }
                    let code = Int8(Swift.max(-127, Swift.min(127, q)))
                    codes.append(code)
                    decoded.append(Float(code) * scale)
                }
                start = end
            }
            return (.int8(scales: scales, codes: codes), decoded)
        case .ternary:
            var total: Double = 0
            for v in values { total += Double(abs(v)) }
            let magnitude = values.isEmpty ? 0 : Float(total / Double(values.count))
            let negative = values.map { $0 < 0 }
            return (.ternary(magnitude: magnitude, negative: negative), negative.map { $0 ? -magnitude : magnitude })
        }
    }

    static func write(_ values: QuantizedValues, into w: inout ByteWriter) {
        switch values {
        case .float32(let v): for x in v { w.write(x) }
        case .float16(let v): for x in v { w.write(x.bitPattern) }
        case .int8(let scales, let codes):
            for s in scales { w.write(s) }
            for c in codes { w.write(UInt8(bitPattern: c)) }
        case .ternary(let magnitude, let negative):
            w.write(magnitude)
            var bits = [UInt8](repeating: 0, count: (negative.count + 7) / 8)
            for (i, n) in negative.enumerated() where n { bits[i >> 3] |= 1 << UInt8(i & 7) }
            w.write(bytes: bits)
        }
    }

    /// Bytes the value section takes for `k` values.
    static func size(_ encoding: ValueEncoding, k: Int) -> Int {
        switch encoding {
        case .float32: 4 * k
        case .float16: 2 * k
        case .int8: k + 4 * ((k + UpdateFormat.int8BlockSize - 1) / UpdateFormat.int8BlockSize)
        case .ternary: 4 + (k + 7) / 8
        }
    }

    /// Reads `k` values, checking they are finite; calls `visit` with (position, value).
    static func read(_ r: inout ByteReader, as encoding: ValueEncoding, k: Int, _ visit: (Int, Float) -> Void)
        throws(WireError)
    {
        switch encoding {
        case .float32:
            let bytes = try r.readBytes(4 * k, "float32 values")
            for i in 0..<k {
                let v = Float(
                    bitPattern: UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))
                guard v.isFinite else { throw WireError(.nonFinite, "value \(i) is \(v)") }
                visit(i, v)
            }
        case .float16:
            let bytes = try r.readBytes(2 * k, "float16 values")
            for i in 0..<k {
                let h = Float16(
                    bitPattern: UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))
                guard h.isFinite else { throw WireError(.nonFinite, "value \(i) is \(h)") }
                visit(i, Float(h))
            }
        case .int8:
            let block = UpdateFormat.int8BlockSize
            let blocks = (k + block - 1) / block
            let scaleBytes = try r.readBytes(4 * blocks, "int8 scales")
            let codes = try r.readBytes(k, "int8 codes")
            for blockIndex in 0..<blocks {
                let scale = Float(
                    bitPattern: UInt32(
                        littleEndian: scaleBytes.loadUnaligned(
                            fromByteOffset: 4 * blockIndex, as: UInt32.self)))
                // The largest code times the scale must be finite too (every decoded value is finite).
                guard scale.isFinite, scale > 0, (scale * 127).isFinite else {
                    throw WireError(
                        .nonFinite, "int8 block scale \(scale) must be finite and positive, and 127 × scale finite")
                }
                let start = blockIndex * block
                for i in start..<Swift.min(k, start + block) {
                    let code = Int8(bitPattern: codes[i])
                    guard code != -128 else { throw WireError(.valueOutOfRange, "int8 code -128 is not used") }
                    visit(i, Float(code) * scale)
                }
            }
        case .ternary:
            let magnitude = try r.readFloat("ternary magnitude")
            guard magnitude.isFinite, magnitude >= 0 else {
                throw WireError(.nonFinite, "ternary magnitude \(magnitude) must be finite and non-negative")
            }
            let bits = try r.readBytes((k + 7) / 8, "ternary signs")
            for i in 0..<k { visit(i, bits[i >> 3] & (1 << UInt8(i & 7)) != 0 ? -magnitude : magnitude) }
        }
    }
}

/// Values ready for the wire.
enum QuantizedValues {
    case float32([Float])
    case float16([Float16])
    case int8(scales: [Float], codes: [Int8])
    case ternary(magnitude: Float, negative: [Bool])
}

extension Float16 {
    /// The nearest half, saturated to ±65504 instead of overflowing to infinity.
    init(clamping value: Float) {
        self = Float16(Swift.max(-65_504, Swift.min(65_504, value)))
    }
}
