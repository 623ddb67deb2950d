// libFuzzer target `summary`: StreamSummary.decode(binary:) (Sources/StreamCore) on arbitrary bytes, then the JSON
// rendering of an accepted summary (quantiles from its sketches). Thrown WireErrors are expected; a crash is not.
// With TRIBUTARY_FUZZ_INVARIANTS=1 also merges, extends and re-encodes accepted summaries.
import StreamCore
import TributaryWire

#if canImport(Glibc)
    import Glibc
#endif

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSummary(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    withBothChecksums(data, size) { bytes in
        guard let (summary, start, end) = verdict(bytes, { () throws(WireError) in try StreamSummary.decode(binary: bytes) })
        else { return }
        // Rendering an accepted summary (statistics, EWMA, sketch quantiles) only reads it: must not crash.
        _ = summary.json(SummaryContext(device: "d", stream: "s", start: start, end: end))
        guard invariantsEnabled else { return }

        // What an aggregator goes on to do with accepted summaries: merge them, keep adding, re-encode.
        // Opt-in (TRIBUTARY_FUZZ_INVARIANTS=1): a failure here is in code after the decoder, or a state the
        // decoder should have refused.
        let again = summary.binary(start: start, end: end)
        invariant(again.withUnsafeBytes { (try? StreamSummary.decode(binary: $0)) != nil },
                  "a re-encoded accepted summary does not decode")
        var merged = summary
        merged.merge(summary)
        let frames = 40
        let samples = (0..<(frames * summary.channels)).map { Float($0 % 17) - 8 }
        samples.withUnsafeBufferPointer { merged.add($0, frames: frames) }
        _ = merged.json(SummaryContext(device: "d", stream: "s", start: start, end: end))
        // Not required to decode again: the format only asks for finite fields, so an accepted summary may hold a
        // mean near the largest double, and merging or adding can then overflow M2 to infinity.
        _ = merged.binary(start: start, end: end)
    }
    return 0
}

/// With TRIBUTARY_FUZZ_WRITE_SEEDS=DIR, writes encoded summaries (plain, EWMA, sketches of one and several
/// levels, empty channels) into DIR and exits: the seed corpus, made by the real encoder.
@_cdecl("LLVMFuzzerInitialize")
public func initializeSummary(
    _ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>
) -> CInt {
    guard let dir = getenv("TRIBUTARY_FUZZ_WRITE_SEEDS") else { return 0 }
    let directory = String(cString: dir)
    struct Seed { var name: String; var channels: Int; var alpha: Double?; var k: Int?; var frames: Int }
    let seeds = [
        Seed(name: "summary-plain-1ch", channels: 1, alpha: nil, k: nil, frames: 10),
        Seed(name: "summary-ewma-3ch", channels: 3, alpha: 0.1, k: nil, frames: 50),
        Seed(name: "summary-empty-2ch-sketch", channels: 2, alpha: nil, k: 8, frames: 0),
        Seed(name: "summary-sketch-k8-1level", channels: 1, alpha: nil, k: 8, frames: 6),
        Seed(name: "summary-sketch-k8-levels", channels: 2, alpha: nil, k: 8, frames: 1000),
        Seed(name: "summary-ewma-sketch-k16-4ch", channels: 4, alpha: 0.5, k: 16, frames: 3000),
        Seed(name: "summary-sketch-k200", channels: 1, alpha: 0.01, k: 200, frames: 700),
    ]
    for seed in seeds {
        var summary = StreamSummary(channels: seed.channels, ewmaAlpha: seed.alpha, sketchK: seed.k, seed: 42)
        var state: UInt64 = 0x1234_5678
        let values = (0..<(seed.frames * seed.channels)).map { _ -> Float in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Float(Int64(truncatingIfNeeded: state >> 40) % 2000) / 100
        }
        values.withUnsafeBufferPointer { summary.add($0, frames: seed.frames) }
        writeSeed(summary.binary(start: 1_700_000_000_000_000_000, end: 1_700_000_002_000_000_000),
                  directory: directory, name: seed.name + ".bin")
    }
    exit(0)
}
