/// `v` with exactly `digits` decimals, rounded (`fixedDecimal(0.83456, digits: 4)` is `"0.8346"`), without
/// Foundation's `String(format:)`. Non-finite values print as Swift prints them.
public func fixedDecimal(_ v: Double, digits: Int) -> String {
    guard v.isFinite else { return String(v) }
    var p = 1.0
    for _ in 0..<digits { p *= 10 }
    let scaled = (abs(v) * p).rounded()
    let whole = Int64(scaled / p)
    var fraction = String(Int64(scaled - Double(whole) * p))
    fraction = String(repeating: "0", count: max(0, digits - fraction.count)) + fraction
    return (v < 0 && scaled != 0 ? "-" : "") + String(whole) + (digits > 0 ? "." + fraction : "")
}
