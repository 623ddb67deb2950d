/// A named block of parameters inside the flat parameter vector.
public struct ParameterGroup: Sendable, Hashable {
    /// Name, such as `dense0.weight`.
    public var name: String
    /// Shape, row-major (`[outputs, inputs]` for a weight matrix).
    public var shape: [Int]
    /// Index of the first parameter in the flat vector.
    public var offset: Int
    /// Number of parameters.
    public var count: Int { shape.reduce(1, *) }
    /// The index range in the flat vector.
    public var range: Range<Int> { offset..<(offset + count) }
}

/// Where every parameter group lives in a model's one contiguous `[Float]` vector. The update codec and the
/// aggregator work on the flat vector and need nothing else; the layout documents it (and can be checked by
/// its ``signature``).
public struct ParameterLayout: Sendable, Hashable, CustomStringConvertible {
    /// The groups, in order, without gaps.
    public private(set) var groups: [ParameterGroup] = []
    /// Total number of parameters.
    public private(set) var count = 0

    /// An empty layout.
    public init() {}

    /// Appends a group and returns it.
    @discardableResult
    public mutating func add(_ name: String, shape: [Int]) -> ParameterGroup {
        precondition(shape.allSatisfy { $0 > 0 }, "parameter shapes must be positive")
        let group = ParameterGroup(name: name, shape: shape, offset: count)
        groups.append(group)
        count += group.count
        return group
    }

    /// The group called `name`.
    public func group(named name: String) -> ParameterGroup? { groups.first { $0.name == name } }

    /// A 64-bit FNV-1a hash of names and shapes: two layouts with the same signature are interchangeable.
    public var signature: UInt64 {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        func mix(_ byte: UInt8) {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01B3
        }
        for group in groups {
            for byte in group.name.utf8 { mix(byte) }
            mix(0)
            for dimension in group.shape {
                for shift in stride(from: 0, to: 64, by: 8) { mix(UInt8(truncatingIfNeeded: dimension >> shift)) }
            }
        }
        return hash
    }

    /// `name[shape]@offset, …`.
    public var description: String {
        groups.map { "\($0.name)\($0.shape)@\($0.offset)" }.joined(separator: ", ")
    }
}
