/// `[String: V]` keys are data, not property names: like Foundation's JSON coders, the document coders never
/// convert their case.
protocol StringKeyedDecodable {
    static func decodeEntries(_ decoder: TreeDecoder) throws -> Self
}

protocol StringKeyedEncodable {
    func encodeEntries(_ encoder: TreeEncoder) throws
}

extension Dictionary: StringKeyedDecodable where Key == String, Value: Decodable {
    static func decodeEntries(_ decoder: TreeDecoder) throws -> Self {
        guard case .map(let entries) = decoder.value else { throw decoder.mismatch(Self.self, "a mapping") }
        var result: [String: Value] = [:]
        for (key, item) in entries {
            result[key] = try decoder.child(item, IndexKey(stringValue: key)).decode(Value.self)
        }
        return result
    }
}

extension Dictionary: StringKeyedEncodable where Key == String, Value: Encodable {
    func encodeEntries(_ encoder: TreeEncoder) throws {
        var entries: [String: TreeEncoder.Node] = [:]
        for (key, value) in self {
            let (node, child) = encoder.child(IndexKey(stringValue: key))
            try child.encode(value)
            entries[key] = node
        }
        encoder.node.content = .map(entries)
    }
}
