/// snake_case ⇄ camelCase for keys, by the same rules as Foundation's JSON coders (`convertToSnakeCase`,
/// `convertFromSnakeCase`), so documents read and written here match what those coders did.
public enum KeyCase {
    /// `kFraction` → `k_fraction`, `myURLValue` → `my_url_value` (and, as there, `URL` → `u_rl`: the first
    /// character never starts a word).
    public static func snake(_ key: String) -> String {
        // Most keys are one lowercase word: nothing to do, nothing to allocate.
        if !key.utf8.contains(where: { $0 >= 65 && $0 <= 90 || $0 >= 0x80 }) { return key }
        let c = Array(key)
        guard c.count > 1 else { return key.lowercased() }
        var words: [Range<Int>] = []
        var wordStart = 0
        var searchStart = 1
        while let upper = (searchStart..<c.count).first(where: { c[$0].isUppercase }) {
            words.append(wordStart..<upper)
            guard let lower = (upper..<c.count).first(where: { c[$0].isLowercase }) else {
                wordStart = upper
                searchStart = c.count
                break
            }
            if lower == upper + 1 {
                // A capital followed by a lowercase letter starts the next word.
                wordStart = upper
            } else {
                // A run of capitals is a word, up to the capital before the lowercase letter.
                words.append(upper..<(lower - 1))
                wordStart = lower - 1
            }
            searchStart = lower + 1
        }
        words.append(wordStart..<c.count)
        return words.map { String(c[$0]).lowercased() }.joined(separator: "_")
    }

    /// `k_fraction` → `kFraction`; leading and trailing underscores kept; a key without underscores unchanged.
    public static func camel(_ key: String) -> String {
        guard key.utf8.contains(95) else { return key }
        guard let first = key.firstIndex(where: { $0 != "_" }) else { return key }
        var last = key.index(before: key.endIndex)
        while last > first && key[last] == "_" { key.formIndex(before: &last) }
        let body = key[first...last]
        let parts = body.split(separator: "_")
        guard parts.count > 1 else { return key }
        let joined =
            parts[0].lowercased()
            + parts.dropFirst().map { $0.prefix(1).uppercased() + $0.dropFirst().lowercased() }.joined()
        return String(key[..<first]) + joined + String(key[key.index(after: last)...])
    }
}
