import Foundation
@_exported public import LocalBroker
public import MQTT
import Synchronization

/// Runs `body` with a fresh broker and stops the broker afterwards, whether `body` returns or throws.
public func withBroker<T>(
    _ options: MosquittoBroker.Options = MosquittoBroker.Options(),
    _ body: (MosquittoBroker) async throws -> T
) async throws -> T {
    let broker = try await MosquittoBroker.start(options)
    do {
        let result = try await body(broker)
        await broker.stop()
        return result
    } catch {
        await broker.stop()
        throw error
    }
}

/// Thread-safe tally of received payloads, for hot-path handlers that run on a network thread.
public final class ReceivedTally: Sendable {
    private let state = Mutex<(count: Int, seen: [UInt64: Int])>((0, [:]))

    /// Creates an empty tally.
    public init() {}

    /// Records one message identified by `id`.
    public func record(_ id: UInt64) {
        state.withLock { s in
            s.count += 1
            s.seen[id, default: 0] += 1
        }
    }

    /// Messages recorded, duplicates included.
    public var count: Int { state.withLock { $0.count } }
    /// Distinct identifiers recorded.
    public var distinct: Set<UInt64> { state.withLock { Set($0.seen.keys) } }
    /// How many distinct identifiers were recorded.
    public var distinctCount: Int { state.withLock { $0.seen.count } }
    /// How many identifiers were recorded more than once.
    public var duplicated: Int { state.withLock { $0.seen.values.filter { $0 > 1 }.count } }
}

/// Encodes a sequence number as the first 8 bytes of a payload of `size` bytes.
public func numberedPayload(_ n: UInt64, size: Int) -> [UInt8] {
    var bytes = [UInt8](repeating: 0xA5, count: max(size, 8))
    withUnsafeBytes(of: n.littleEndian) { for i in 0..<8 { bytes[i] = $0[i] } }
    return bytes
}

/// Reads the sequence number written by ``numberedPayload(_:size:)``.
public func payloadNumber(_ payload: UnsafeRawBufferPointer) -> UInt64 {
    guard payload.count >= 8 else { return .max }
    return UInt64(littleEndian: payload.loadUnaligned(as: UInt64.self))
}
