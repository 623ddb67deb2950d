import TributaryWire

/// A minimal JSON writer for the small documents the core publishes (summaries), without Foundation.
/// Non-finite numbers are written as `null`, since JSON has no NaN or infinity.
public struct JSONWriter: Sendable {
    /// The text written so far.
    public private(set) var text = ""
    private var needsComma: [Bool] = [false]

    /// Starts an empty document.
    public init() {}

    private mutating func separator() {
        if needsComma[needsComma.count - 1] { text += "," }
        needsComma[needsComma.count - 1] = true
    }

    /// Opens an object (as a value, or as the value of `key` inside an object).
    public mutating func beginObject(_ key: String? = nil) {
        separator()
        if let key { text += JSONString.quoted(key) + ":" }
        text += "{"
        needsComma.append(false)
    }

    /// Closes the innermost object.
    public mutating func endObject() {
        needsComma.removeLast()
        text += "}"
    }

    /// Opens an array.
    public mutating func beginArray(_ key: String? = nil) {
        separator()
        if let key { text += JSONString.quoted(key) + ":" }
        text += "["
        needsComma.append(false)
    }

    /// Closes the innermost array.
    public mutating func endArray() {
        needsComma.removeLast()
        text += "]"
    }

    /// Writes a string member (or array element when `key` is nil).
    public mutating func string(_ key: String?, _ value: String) {
        separator()
        if let key { text += JSONString.quoted(key) + ":" }
        text += JSONString.quoted(value)
    }

    /// Writes a number member; NaN and infinities become `null`.
    public mutating func number(_ key: String?, _ value: Double) {
        separator()
        if let key { text += JSONString.quoted(key) + ":" }
        text += value.isFinite ? Self.format(value) : "null"
    }

    /// Writes an integer member.
    public mutating func integer(_ key: String?, _ value: Int64) {
        separator()
        if let key { text += JSONString.quoted(key) + ":" }
        text += String(value)
    }

    /// Writes a boolean member.
    public mutating func bool(_ key: String?, _ value: Bool) {
        separator()
        if let key { text += JSONString.quoted(key) + ":" }
        text += value ? "true" : "false"
    }

    /// Shortest text that reads back as the same double; integral values without a fraction.
    static func format(_ value: Double) -> String {
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return value.description
    }
}
