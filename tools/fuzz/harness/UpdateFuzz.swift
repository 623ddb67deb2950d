// libFuzzer target `update`: UpdateDecoder.decode (Sources/UpdateCodec) on arbitrary bytes, plus the aggregator's
// UpdateDecoder.accumulate for small dimensions. Thrown WireErrors are expected; a crash is not.
import TributaryWire
import UpdateCodec

/// One decoder for the process, as a service keeps one (its zstd context and scratch buffer are reused).
/// The dimension limit is lowered from the default 100 000 000 to 2^22 so that a few-byte input cannot make every
/// execution allocate gigabytes (the limit itself is configuration, not decoder logic).
nonisolated(unsafe) var decoder = try! UpdateDecoder(maxDimension: 1 << 22)

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzUpdate(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    withBothChecksums(data, size) { bytes in
        guard let decoded = verdict(bytes, { () throws(WireError) in try decoder.decode(bytes) }) else { return }
        let h = decoded.header
        invariant(decoded.indices.count == h.k && decoded.values.count == h.k, "arrays are not k long")
        invariant(h.k <= h.dimension, "k \(h.k) > n \(h.dimension)")
        invariant(decoded.indices.allSatisfy { Int($0) < h.dimension }, "index ≥ n")
        invariant(zip(decoded.indices, decoded.indices.dropFirst()).allSatisfy { $0 < $1 }, "indices not increasing")
        invariant(decoded.values.allSatisfy(\.isFinite), "non-finite value accepted")

        // The aggregator's path: scatter-add straight into a model-sized accumulator.
        guard h.dimension <= 1 << 16 else { return }
        var accumulator = [Float](repeating: 0, count: h.dimension)
        let accepted = accumulator.withUnsafeMutableBufferPointer { acc in
            (try? decoder.accumulate(bytes, into: acc, weight: 0.5, expectedTask: h.task)) != nil
        }
        invariant(accepted, "decode accepted what accumulate rejected")
    }
    return 0
}
