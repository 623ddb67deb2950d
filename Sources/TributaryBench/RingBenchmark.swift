import Foundation
import StreamCore

/// `tributary-bench ring`: cross-thread throughput of our SPSC ring against Boost.Lockfree's `spsc_queue`, 8-byte
/// items, one producer and one consumer thread, single elements and batches of 16, 256 and 4096. Both sides do
/// the same work: the producer sends 1…N, spinning when full; the consumer checks order and sums a checksum.
enum RingBenchmark {
    static let capacity = 65_536

    static func run(runs: Int, quick: Bool, impl only: String?, report: BenchReport) throws {
        let items = quick ? 10_000_000 : 100_000_000
        let modes = ["single", "16", "256", "4096"]
        let peer = try PeerPrograms.executable("ring_boost_bench", libraries: ["-lpthread"], cpp: true)
        var samples: [String: [Double]] = [:]
        for run in 1...runs {
            for mode in modes {
                let order = run % 2 == 0 ? ["tributary", "boost"] : ["boost", "tributary"]
                for impl in order where only == nil || only == impl {
                    let seconds: Double
                    if impl == "boost" {
                        let result = try PeerPrograms.run(peer, [mode, "\(items)", "\(capacity)"])
                        let fields = PeerPrograms.fields(result.output)
                        guard result.status == 0, fields["ok"] == 1, let s = fields["seconds"] else {
                            throw PeerPrograms.Failure(description: "ring_boost_bench failed: \(result.output)")
                        }
                        seconds = s
                    } else {
                        seconds = try swiftRun(mode: mode, items: items)
                    }
                    samples["\(mode)|\(impl)", default: []].append(Double(items) / seconds)
                }
            }
            progress("ring run \(run)/\(runs) done")
        }
        for mode in modes {
            for impl in ["tributary", "boost"] {
                guard let values = samples["\(mode)|\(impl)"] else { continue }
                let name = mode == "single" ? "spsc single-element items/s" : "spsc batch-\(mode) items/s"
                report.add(
                    BenchRow(
                        case: "ring", name: name, impl: impl, samples: values, unit: "items/s",
                        higherIsBetter: true))
            }
        }
    }

    struct OrderViolation: Error {}

    static func swiftRun(mode: String, items: Int) throws -> Double {
        let ring = SPSCRing<UInt64>(capacity: capacity, policy: .rejectNewest)
        let producer = ring.makeProducer()
        let consumer = ring.makeConsumer()
        let total = UInt64(items)
        let batch = Int(mode) ?? 1
        let result = Locked<(checksum: UInt64, ok: Bool)>((0, false))
        let seconds: Double
        if batch == 1 {
            seconds = runPair(
                {
                    var p = producer
                    var next: UInt64 = 1
                    while next <= total {
                        while !p.tryPush(next) {}
                        next += 1
                    }
                },
                {
                    var c = consumer
                    var expected: UInt64 = 1
                    var sum: UInt64 = 0
                    var ok = true
                    while expected <= total {
                        guard let value = c.pop() else { continue }
                        ok = ok && value == expected
                        sum &+= value
                        expected += 1
                    }
                    result.set((sum, ok))
                })
        } else {
            seconds = runPair(
                {
                    var p = producer
                    var next: UInt64 = 1
                    while next <= total {
                        let span = p.reserveAvailable(min(batch, Int(total - next + 1)))
                        let (a, b) = ring.segments(span)
                        for i in 0..<a.count { a[i] = next &+ UInt64(i) }
                        next &+= UInt64(a.count)
                        for i in 0..<b.count { b[i] = next &+ UInt64(i) }
                        next &+= UInt64(b.count)
                        p.commit(span.count)
                    }
                },
                {
                    var c = consumer
                    var expected: UInt64 = 1
                    var sum: UInt64 = 0
                    var ok = true
                    while expected <= total {
                        let span = c.acquire(batch)
                        let (a, b) = ring.segments(span)
                        for value in a {
                            ok = ok && value == expected
                            sum &+= value
                            expected &+= 1
                        }
                        for value in b {
                            ok = ok && value == expected
                            sum &+= value
                            expected &+= 1
                        }
                        c.release(span.count)
                    }
                    result.set((sum, ok))
                })
        }
        let (checksum, ok) = result.get()
        guard ok, checksum == total &* (total &+ 1) / 2 else { throw OrderViolation() }
        return seconds
    }
}

/// A value shared between threads behind a lock.
final class Locked<Value: Sendable>: @unchecked Sendable {
    // @unchecked: guarded by `lock`.
    private let lock = NSLock()
    private var value: Value
    init(_ value: Value) { self.value = value }
    func set(_ newValue: Value) { lock.withLock { value = newValue } }
    func get() -> Value { lock.withLock { value } }
}
