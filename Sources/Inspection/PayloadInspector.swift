import SensorFrames
import StreamCore
public import TributaryWire
import UpdateCodec

/// Recognises any Tributary binary payload by its magic and describes it: header fields and a summary of its
/// content. Invalid input is a ``WireError`` with the decoder's reason.
public enum PayloadInspector {
    /// What a payload is and what it holds, as ordered key–value lines.
    public struct Report: Sendable {
        /// The kind, such as `sensor frame batch`.
        public var kind: String
        /// Fields, in display order.
        public var fields: [(String, String)]
    }

    /// The kinds of payload recognised.
    public static let kinds = ["sensor frame batch (TSFB)", "update or model (TUPD)", "stream summary (TSUM)"]

    /// Inspects one payload.
    public static func inspect(_ bytes: UnsafeRawBufferPointer) throws(WireError) -> Report {
        guard bytes.count >= 4 else { throw WireError(.truncated, "\(bytes.count) bytes is too short for any payload") }
        let magic = UInt32(littleEndian: bytes.loadUnaligned(as: UInt32.self))
        switch magic {
        case SensorBatch.magic: return try sensorBatch(bytes)
        case UpdateFormat.magic: return try update(bytes)
        case StreamSummary.binaryMagic: return try summary(bytes)
        default:
            let shown = (0..<4).map { b in
                let byte = bytes[b]
                return byte >= 0x20 && byte < 0x7F ? String(UnicodeScalar(byte)) : "."
            }.joined()
            throw WireError(.badMagic, "unknown magic '\(shown)'; expected one of: \(kinds.joined(separator: ", "))")
        }
    }

    static func sensorBatch(_ bytes: UnsafeRawBufferPointer) throws(WireError) -> Report {
        let (h, timestamps, values) = try SensorBatch.decode(bytes, maxBytes: Int.max)
        var fields: [(String, String)] = [
            ("bytes", "\(bytes.count)"),
            ("sequence", "\(h.sequence)"),
            ("channels", "\(h.channels)"),
            ("frames", "\(h.frames)"),
            ("format", formatName(h.format)),
            ("timing", h.period.map { "fixed period \($0) ns (\(rate($0)) Hz)" } ?? "per-frame deltas"),
            ("first timestamp", "\(timestamps.first ?? 0)"),
            ("last timestamp", "\(timestamps.last ?? 0)"),
            ("bytes per sample", format(Double(bytes.count) / Double(h.frames * h.channels))),
        ]
        for c in 0..<h.channels {
            var stats = ChannelStats()
            var i = c
            while i < values.count {
                stats.add(values[i])
                i += h.channels
            }
            fields.append(
                (
                    "channel \(c)",
                    "mean \(format(stats.mean)) std \(format(stats.standardDeviation)) "
                        + "min \(format(Double(stats.min))) max \(format(Double(stats.max)))"
                ))
        }
        return Report(kind: "sensor frame batch", fields: fields)
    }

    static func update(_ bytes: UnsafeRawBufferPointer) throws(WireError) -> Report {
        var decoder: UpdateDecoder
        do { decoder = try UpdateDecoder() } catch { throw WireError(.decompression, "\(error)") }
        let decoded = try decoder.decode(bytes)
        let h = decoded.header
        var norm = 0.0
        var low = Float.infinity
        var high = -Float.infinity
        for v in decoded.values {
            norm += Double(v) * Double(v)
            low = Swift.min(low, v)
            high = Swift.max(high, v)
        }
        let kind: String =
            switch h.type {
            case .update: "sparse update"
            case .denseModel: "dense model"
            case .sparseModelDelta: "sparse model delta"
            }
        var fields: [(String, String)] = [
            ("bytes", "\(bytes.count)"),
            ("task", h.task),
            ("round", "\(h.round)"),
        ]
        if !h.device.isEmpty { fields.append(("device", h.device)) }
        fields += [
            ("sample weight", "\(h.sampleWeight)"),
            ("dimension", "\(h.dimension)"),
            ("k", "\(h.k) (\(format(100 * Double(h.k) / Double(h.dimension)))% of parameters)"),
            ("values", "\(h.valueEncoding)"),
            ("indices", "\(h.indexEncoding)"),
            ("model hash", "0x" + String(h.baseModelHash, radix: 16)),
            ("body", "\(h.bodyByteCount) bytes\(h.compressed ? ", zstd-compressed" : "")"),
            ("signature", h.signature.map { "\($0.count) bytes" } ?? "none"),
            ("L2 norm", format(norm.squareRoot())),
            ("value range", h.k > 0 ? "\(format(Double(low))) … \(format(Double(high)))" : "empty"),
            (
                "vs dense float32",
                "\(h.denseFloat32Bytes) bytes → \(format(Double(h.denseFloat32Bytes) / Double(bytes.count)))× smaller"
            ),
        ]
        return Report(kind: kind, fields: fields)
    }

    static func summary(_ bytes: UnsafeRawBufferPointer) throws(WireError) -> Report {
        let (summary, start, end) = try StreamSummary.decode(binary: bytes)
        var fields: [(String, String)] = [
            ("bytes", "\(bytes.count)"), ("channels", "\(summary.channels)"), ("start", "\(start)"), ("end", "\(end)"),
        ]
        for (c, s) in summary.stats.enumerated() {
            fields.append(
                (
                    "channel \(c)",
                    "count \(s.count) mean \(format(s.mean)) std \(format(s.standardDeviation)) "
                        + "min \(format(Double(s.min))) max \(format(Double(s.max))) rms \(format(s.rms))"
                ))
        }
        return Report(kind: "stream summary", fields: fields)
    }

    static func formatName(_ format: SensorBatch.SampleFormat) -> String {
        switch format {
        case .float32: "float32"
        case .int16(let scales): "int16, scales " + scales.map { Self.format(Double($0)) }.joined(separator: " ")
        }
    }

    static func rate(_ period: UInt32) -> String { format(1e9 / Double(period)) }

    /// Up to six significant digits, without Foundation.
    static func format(_ value: Double) -> String {
        guard value.isFinite else { return "\(value)" }
        if value == value.rounded() && abs(value) < 1e12 { return String(Int64(value)) }
        let magnitude = abs(value)
        let decimals = magnitude >= 100 ? 2 : magnitude >= 1 ? 4 : 6
        var scale = 1.0
        for _ in 0..<decimals { scale *= 10 }
        let rounded = (value * scale).rounded() / scale
        return "\(rounded)"
    }
}
