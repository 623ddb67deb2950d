public import Recording

/// The CSV layout `tributary-replay convert` and `cat` use (docs/recording-format.md, "CSV"):
///
/// ```
/// # device: watch-01            optional metadata lines, before the header
/// # stream: imu
/// # rate: 50                    nominal Hz; gives the time stamps when there is no time column
/// # tag.subject: 3              free-form tags
/// time,acc_x[m/s^2],acc_y[m/s^2],label
/// 0.000000000,0.125,-9.81,walk
/// ```
///
/// The time column is `time` or `t` (seconds, a decimal with up to nine fraction digits, read exactly) or `time_ns`
/// (integer nanoseconds); time must not go backwards. A column named `label` holds label names and becomes the
/// stream's label channel (label ids in order of first appearance; an empty cell is -1). Every other column is a
/// channel, its unit in square brackets. Values are decimal floats (`nan` and `inf` too); float32 values
/// survive CSV → recording → CSV bit for bit, because `cat` prints the shortest text that reads back exactly.
public enum CSVLayout {
    /// The label channel's name.
    public static let labelColumn = "label"

    /// Splits `name[unit]`.
    static func splitUnit(_ header: Substring) -> (name: String, unit: String) {
        let trimmed = header.trimmingSpaces
        guard trimmed.hasSuffix("]"), let open = trimmed.lastIndex(of: "[") else { return (String(trimmed), "") }
        let name = trimmed[..<open].trimmingSpaces
        let unit = trimmed[trimmed.index(after: open)..<trimmed.index(before: trimmed.endIndex)]
        return (String(name), String(unit))
    }

    /// Parses decimal seconds into nanoseconds exactly ("12.5" → 12 500 000 000); digits beyond the ninth are
    /// rounded. Falls back to floating point for exponent notation.
    static func nanoseconds(seconds text: Substring) -> Int64? {
        var s = text.trimmingSpaces
        guard !s.isEmpty else { return nil }
        if s.contains(where: { $0 == "e" || $0 == "E" }) {
            guard let d = Double(s), d.isFinite, abs(d) < 9.2e9 else { return nil }
            return Int64((d * 1e9).rounded())
        }
        var negative = false
        if s.first == "-" || s.first == "+" {
            negative = s.first == "-"
            s = s.dropFirst()
        }
        let parts = s.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        guard let whole = parts.first, !(whole.isEmpty && (parts.count < 2 || parts[1].isEmpty)) else { return nil }
        guard whole.allSatisfy(\.isASCIIDigit), whole.count <= 10 else { return nil }
        var result = Int64(whole.isEmpty ? "0" : whole)! * 1_000_000_000
        if parts.count == 2 {
            let fraction = parts[1]
            guard fraction.allSatisfy(\.isASCIIDigit) else { return nil }
            var scale: Int64 = 100_000_000
            var digits = 0
            for c in fraction {
                let d = Int64(c.asciiValue! - 48)
                if digits < 9 {
                    result += d * scale
                    scale /= 10
                } else if digits == 9 {
                    if d >= 5 { result += 1 }
                }
                digits += 1
            }
        }
        guard result <= 9_200_000_000_000_000_000 else { return nil }
        return negative ? -result : result
    }

    /// Parses decimal seconds given on a command line into nanoseconds.
    public static func nanoseconds(secondsText text: String) -> Int64? { nanoseconds(seconds: text[...]) }

    /// Nanoseconds as decimal seconds with nine fraction digits ("12.500000000").
    public static func seconds(_ ns: Int64) -> String {
        let negative = ns < 0
        let magnitude = ns.magnitude
        let whole = magnitude / 1_000_000_000
        let fraction = String(magnitude % 1_000_000_000)
        return (negative ? "-" : "") + String(whole) + "." + String(repeating: "0", count: 9 - fraction.count)
            + fraction
    }

    /// The shortest text that reads back as exactly `value` ("0.1", "-2.5e-07", "nan", "inf").
    public static func text(_ value: Float) -> String {
        if value.isNaN { return "nan" }
        if value.isInfinite { return value < 0 ? "-inf" : "inf" }
        return value.description
    }

    /// Reads a float cell ("nan", "inf", "-inf" and the usual decimal forms).
    static func value(_ cell: Substring) -> Float? {
        let s = cell.trimmingSpaces
        switch s.lowercased() {
        case "nan": return .nan
        case "inf", "+inf", "infinity": return .infinity
        case "-inf", "-infinity": return -.infinity
        default: return Float(s)
        }
    }

    /// Index of the label channel of `stream`, if it has one.
    public static func labelChannel(of stream: RecordingStream) -> Int? {
        stream.channelNames.lastIndex(of: labelColumn)
    }
}

extension Substring {
    var trimmingSpaces: Substring {
        var s = self
        while let f = s.first, f == " " || f == "\t" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" { s = s.dropLast() }
        return s
    }
}

extension Character {
    var isASCIIDigit: Bool { asciiValue.map { $0 >= 48 && $0 <= 57 } ?? false }
}
