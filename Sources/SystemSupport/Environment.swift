import Glibc

/// The process's environment variables, without Foundation.
public enum Environment {
    /// Every variable (a name given twice keeps its first value, as `getenv` does).
    public static var current: [String: String] {
        var result: [String: String] = [:]
        var entry = environ
        while let pointer = entry.pointee {
            let text = String(cString: pointer)
            if let equals = text.firstIndex(of: "=") {
                let name = String(text[..<equals])
                if result[name] == nil { result[name] = String(text[text.index(after: equals)...]) }
            }
            entry += 1
        }
        return result
    }

    /// One variable.
    public static func value(_ name: String) -> String? {
        getenv(name).map { String(cString: $0) }
    }
}
