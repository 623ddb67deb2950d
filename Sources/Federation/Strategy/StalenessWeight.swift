import TributaryMath

/// FedBuff's staleness discount (Nguyen et al. 2022), 1/(1+s)^a, in portable Swift.
///
/// The power is ``FastMath/pow(_:_:)``, exp(−a·log(1+s)), the same on every platform.
enum StalenessWeight {
    /// (1 + staleness)^(−exponent); exactly 1 for staleness 0 or exponent 0.
    static func factor(staleness: Int, exponent: Double) -> Double {
        guard staleness > 0, exponent != 0 else { return 1 }
        return FastMath.pow(Double(staleness) + 1, -exponent)
    }
}
