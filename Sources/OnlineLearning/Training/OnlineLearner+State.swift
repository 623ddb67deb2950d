public import TributaryWire

extension OnlineLearner {
    /// Magic of a saved learner: "TLRS".
    public static let stateMagic: UInt32 = 0x5352_4C54
    /// Saved-learner format version.
    public static let stateVersion: UInt8 = 1

    /// Everything needed to resume training exactly: parameters, optimizer moments and powers, step count,
    /// standardizer and FedProx anchor, with the layout signature and a CRC32C. Little-endian.
    public func savedState() -> [UInt8] {
        let n = parameters.count
        var w = ByteWriter(capacity: 64 + 16 * n)
        w.write(Self.stateMagic)
        w.write(Self.stateVersion)
        w.write(network.layout.signature)
        w.write(UInt32(n))
        w.write(UInt64(steps))
        w.write(beta1Power)
        w.write(beta2Power)
        for array in [parameters, firstMoment, secondMoment] { for v in array { w.write(v) } }
        if let standardizer {
            w.write(UInt8(standardizer.frozen ? 3 : 1))
            w.write(UInt64(standardizer.foldedCount))
            w.write(UInt32(standardizer.blockCount))
            w.write(UInt64(standardizer.offered))
            for v in standardizer.mean { w.write(v) }
            for v in standardizer.m2 { w.write(v) }
            for array in [standardizer.offset, standardizer.scale, standardizer.blockSum, standardizer.blockSquares] {
                for v in array { w.write(v) }
            }
        } else {
            w.write(UInt8(0))
        }
        if let anchor {
            w.write(UInt8(1))
            for v in anchor { w.write(v) }
        } else {
            w.write(UInt8(0))
        }
        w.write(UInt64(averagedSteps))
        if averagedSteps > 0 { for v in averagedParameters { w.write(v) } }
        w.appendChecksum()
        return w.bytes
    }

    /// Restores a state written by ``savedState()`` for the same network; checks the checksum, the layout
    /// signature, every count and that all numbers are finite.
    public mutating func restore(_ bytes: UnsafeRawBufferPointer) throws(WireError) {
        guard bytes.count >= 4 else { throw WireError(.truncated, "learner state shorter than its checksum") }
        let body = UnsafeRawBufferPointer(rebasing: bytes[..<(bytes.count - 4)])
        let stored = UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: bytes.count - 4, as: UInt32.self))
        guard CRC32C.checksum(body) == stored else { throw WireError(.badChecksum, "learner state checksum mismatch") }
        var r = ByteReader(body)
        guard try r.read(UInt32.self, "magic") == Self.stateMagic else {
            throw WireError(.badMagic, "not a learner state")
        }
        let version = try r.read(UInt8.self, "version")
        guard version == Self.stateVersion else {
            throw WireError(.unsupportedVersion, "learner state version \(version)")
        }
        let signature = try r.read(UInt64.self, "layout signature")
        guard signature == network.layout.signature else {
            throw WireError(.mismatch, "saved for another model layout")
        }
        let n = Int(try r.read(UInt32.self, "parameter count"))
        guard n == parameters.count else {
            throw WireError(.mismatch, "saved \(n) parameters, the model has \(parameters.count)")
        }
        let savedSteps = try r.read(UInt64.self, "steps")
        let b1 = try r.readFloat("beta1 power")
        let b2 = try r.readFloat("beta2 power")
        func floats(_ what: StaticString) throws(WireError) -> [Float] {
            var out = [Float](repeating: 0, count: n)
            for i in 0..<n {
                let v = try r.readFloat(what)
                guard v.isFinite else { throw WireError(.nonFinite, "\(what) \(i) is \(v)") }
                out[i] = v
            }
            return out
        }
        let restoredParameters = try floats("parameter")
        let restoredFirst = try floats("first moment")
        let restoredSecond = try floats("second moment")
        let standardizerFlag = try r.read(UInt8.self, "standardizer flag")
        var restoredStandardizer: Standardizer?
        if standardizerFlag != 0 {
            guard standardizerFlag == 1 || standardizerFlag == 3 else {
                throw WireError(.malformed, "standardizer flag \(standardizerFlag)")
            }
            let count = try r.read(UInt64.self, "standardizer count")
            let block = Int(try r.read(UInt32.self, "standardizer block count"))
            let offered = try r.read(UInt64.self, "standardizer offered count")
            let d = network.inputs
            var mean = [Double](repeating: 0, count: d)
            var m2 = [Double](repeating: 0, count: d)
            for i in 0..<d { mean[i] = try r.readDouble("standardizer mean") }
            for i in 0..<d { m2[i] = try r.readDouble("standardizer m2") }
            var floatArrays: [[Float]] = []
            for _ in 0..<4 {
                var array = [Float](repeating: 0, count: d)
                for i in 0..<d { array[i] = try r.readFloat("standardizer state") }
                floatArrays.append(array)
            }
            guard mean.allSatisfy(\.isFinite), m2.allSatisfy({ $0.isFinite && $0 >= 0 }), count <= UInt64(Int.max),
                block < 128, offered <= UInt64(Int.max), floatArrays.allSatisfy({ $0.allSatisfy(\.isFinite) })
            else {
                throw WireError(.valueOutOfRange, "standardizer statistics out of range")
            }
            var s = Standardizer(
                count: Int(count), mean: mean, m2: m2, offset: floatArrays[0], scale: floatArrays[1],
                blockCount: block, blockSum: floatArrays[2], blockSquares: floatArrays[3],
                offered: Int(truncatingIfNeeded: offered))
            s.frozen = standardizerFlag == 3
            restoredStandardizer = s
        }
        let anchorFlag = try r.read(UInt8.self, "anchor flag")
        guard anchorFlag <= 1 else { throw WireError(.malformed, "anchor flag \(anchorFlag)") }
        let restoredAnchor = anchorFlag == 1 ? try floats("anchor") : nil
        let restoredAveragedSteps = try r.read(UInt64.self, "averaged steps")
        guard restoredAveragedSteps <= UInt64(Int.max) else { throw WireError(.valueOutOfRange, "averaged steps") }
        let restoredAverage = restoredAveragedSteps > 0 ? try floats("averaged parameter") : []
        try r.expectEnd("learner state")
        guard savedSteps <= UInt64(Int.max), b1.isFinite, b2.isFinite else {
            throw WireError(.valueOutOfRange, "step count or optimizer powers out of range")
        }
        parameters = restoredParameters
        firstMoment = restoredFirst
        secondMoment = restoredSecond
        standardizer = restoredStandardizer
        anchor = restoredAnchor
        averagedSteps = Int(restoredAveragedSteps)
        averagedParameters = restoredAverage
        steps = Int(savedSteps)
        beta1Power = b1
        beta2Power = b2
    }
}
