/// FedBuff's staleness discount (Nguyen et al. 2022), 1/(1+s)^a, in portable Swift.
///
/// The standard library has no `pow` without Foundation, so the power is computed as exp(−a·log(1+s)) with the
/// small log and exp below (within a few ulps: both are range-reduced by powers of two and finished with series).
enum StalenessWeight {
    /// (1 + staleness)^(−exponent); exactly 1 for staleness 0 or exponent 0.
    static func factor(staleness: Int, exponent: Double) -> Double {
        guard staleness > 0, exponent != 0 else { return 1 }
        return exp(-exponent * log(Double(staleness) + 1))
    }

    static let ln2Hi: Double = 6.931_471_803_691_238_164_90e-01
    static let ln2Lo: Double = 1.908_214_929_270_587_700_02e-10

    /// Natural logarithm of a finite x ≥ 1 (what staleness needs); NaN below 0, −∞ at 0.
    static func log(_ x: Double) -> Double {
        if x.isNaN || x < 0 { return .nan }
        if x == 0 { return -.infinity }
        if x.isInfinite { return x }
        // x = m·2ᵉ with m in [√½, √2]: log m = 2·atanh(f), f = (m−1)/(m+1), |f| ≤ 0.172.
        var e = Int(x.exponent)
        var m = x.significand
        if m > 1.414_213_562_373_095_1 {
            m /= 2
            e += 1
        }
        let f = (m - 1) / (m + 1)
        let f2 = f * f
        var series = 0.0
        for k in stride(from: 12, through: 0, by: -1) { series = series * f2 + 1 / Double(2 * k + 1) }
        return Double(e) * ln2Hi + (2 * f * series + Double(e) * ln2Lo)
    }

    /// eʸ; 0 far below, +∞ far above.
    static func exp(_ y: Double) -> Double {
        if y.isNaN { return y }
        if y > 709.78 { return .infinity }
        if y < -745.14 { return 0 }
        // y = k·ln2 + r with |r| ≤ ln2/2; eʳ by its Taylor series to degree 20.
        let k = (y / (ln2Hi + ln2Lo)).rounded()
        let r = (y - k * ln2Hi) - k * ln2Lo
        var p = 1.0
        for i in stride(from: 20, through: 1, by: -1) { p = 1 + r / Double(i) * p }
        // p·2ᵏ in two steps so that subnormal results are right.
        let k1 = Int(k) / 2
        let k2 = Int(k) - k1
        return p * Double(sign: .plus, exponent: k1, significand: 1) * Double(sign: .plus, exponent: k2, significand: 1)
    }
}
