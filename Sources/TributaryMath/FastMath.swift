/// Elementary functions in portable Swift (the standard library has none without Foundation): the one home of
/// exp, log, pow, the logistic function and tanh for every module.
///
/// Implemented here rather than taken from the platform's libm so that training is bit-for-bit identical on
/// every device: a model trained on an ARM sensor node and on an x86 server from the same data and seed ends
/// with the same weights. Accuracy is within a few ulps over the ranges the models use.
public enum FastMath {
    @usableFromInline static let ln2Hi: Double = 0.693_147_180_369_123_816_49
    @usableFromInline static let ln2Lo: Double = 1.908_214_929_270_587_7e-10
    @usableFromInline static let invLn2: Double = 1.442_695_040_888_963_4

    /// eˣ in double precision; 0 below −745, +∞ above 709.
    @inlinable
    public static func exp(_ x: Double) -> Double {
        if x.isNaN { return x }
        if x > 709.78 { return .infinity }
        if x < -745.13 { return 0 }
        // x = k·ln2 + r, |r| ≤ ln2/2; eʳ by a degree-11 Taylor polynomial (error < 2e-17 relative).
        let k = (x * invLn2).rounded()
        let r = (x - k * ln2Hi) - k * ln2Lo
        var p = 1.0 / 39_916_800
        p = p * r + 1.0 / 3_628_800
        p = p * r + 1.0 / 362_880
        p = p * r + 1.0 / 40_320
        p = p * r + 1.0 / 5_040
        p = p * r + 1.0 / 720
        p = p * r + 1.0 / 120
        p = p * r + 1.0 / 24
        p = p * r + 1.0 / 6
        p = p * r + 0.5
        p = p * r + 1
        p = p * r + 1
        return scale(p, by: Int(k))
    }

    /// p · 2ⁿ, exact (with subnormal results handled by two steps).
    @inlinable
    static func scale(_ p: Double, by n: Int) -> Double {
        if n > 1023 {
            return p * Double(sign: .plus, exponent: 1023, significand: 1)
                * Double(sign: .plus, exponent: n - 1023, significand: 1)
        }
        if n < -1022 {
            return p * Double(sign: .plus, exponent: -1022, significand: 1)
                * Double(sign: .plus, exponent: n + 1022, significand: 1)
        }
        return p * Double(sign: .plus, exponent: n, significand: 1)
    }

    /// Natural logarithm; −∞ at 0, NaN below.
    @inlinable
    public static func log(_ x: Double) -> Double {
        if x.isNaN || x < 0 { return .nan }
        if x == 0 { return -.infinity }
        if x.isInfinite { return x }
        // x = m·2ᵉ with m in [√½, √2): log m = 2·atanh(s), s = (m−1)/(m+1), |s| ≤ 0.1716.
        var e = Int(x.exponent)
        var m = x.significand  // [1, 2)
        if m > 1.414_213_562_373_095_1 {
            m /= 2
            e += 1
        }
        let s = (m - 1) / (m + 1)
        let s2 = s * s
        var series = 1.0 / 19
        series = series * s2 + 1.0 / 17
        series = series * s2 + 1.0 / 15
        series = series * s2 + 1.0 / 13
        series = series * s2 + 1.0 / 11
        series = series * s2 + 1.0 / 9
        series = series * s2 + 1.0 / 7
        series = series * s2 + 1.0 / 5
        series = series * s2 + 1.0 / 3
        series = series * s2 + 1
        return 2 * s * series + Double(e) * ln2Hi + Double(e) * ln2Lo
    }

    /// xʸ for x > 0, as exp(y·log x) (within a few ulps where the result is normal); 1 when y is 0, NaN for a
    /// negative or NaN x, 0 at x = 0 for y > 0.
    @inlinable
    public static func pow(_ x: Double, _ y: Double) -> Double {
        if y == 0 { return 1 }
        if x.isNaN || y.isNaN || x < 0 { return .nan }
        if x == 0 { return y > 0 ? 0 : .infinity }
        if x == 1 { return 1 }
        return exp(y * log(x))
    }

    /// eˣ for a Float argument.
    @inlinable
    public static func exp(_ x: Float) -> Float { Float(exp(Double(x))) }

    /// eˣ in single precision for x ≤ 0 (degree-7 polynomial after range reduction; ≤ 2 ulp). Used where a
    /// float result suffices and speed matters (the logistic function on the training path): branch-free, with
    /// the polynomial evaluated by Estrin's scheme so its dependency chain is short.
    @inlinable @inline(__always)
    static func expNegative(_ x: Float) -> Float {
        let clamped = Swift.max(x, -87)
        // Round x·log₂e to the nearest integer k with the 1.5·2²³ trick; k also sits in the sum's low bits.
        let shifter: Float = 12_582_912
        let shifted = clamped * 1.442_695 + shifter
        let k = shifted - shifter
        let kBits = Int32(bitPattern: shifted.bitPattern &- shifter.bitPattern)
        let r = (clamped - k * 0.693_145_75) - k * 1.428_606_8e-6
        let r2 = r * r
        let r4 = r2 * r2
        let p01 = 1 + r
        let p23 = 0.5 + r * (1.0 / 6)
        let p45 = 1.0 / 24 + r * (1.0 / 120)
        let p67 = 1.0 / 720 + r * (1.0 / 5040)
        let p = (p01 + r2 * p23) + r4 * (p45 + r2 * p67)
        return p * Float(bitPattern: UInt32(bitPattern: (kBits &+ 127) &<< 23))
    }

    /// The logistic function 1/(1+e⁻ˣ), stable for large |x|.
    @inlinable @inline(__always)
    public static func sigmoid(_ x: Float) -> Float {
        let e = expNegative(-abs(x))
        return x >= 0 ? 1 / (1 + e) : e / (1 + e)
    }

    /// Hyperbolic tangent.
    @inlinable
    public static func tanh(_ x: Float) -> Float {
        let z = Double(x)
        if abs(z) > 20 { return z > 0 ? 1 : -1 }
        let e = exp(2 * z)
        return Float((e - 1) / (e + 1))
    }
}
