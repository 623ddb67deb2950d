import AggregatorService
import Federation
import Foundation
import LocalBroker
import Sodium
import TributaryWire
import Trust
import UpdateCodec

/// `tributary-bench trust`: what production mode costs. Ed25519 signing and verification per update (OpenSSL's
/// libcrypto, as the agent signs; libsodium, as the aggregator checks and signs), the bytes a signature adds, the
/// aggregator's throughput with its checks (registry look-up and signature before decoding, every acknowledgement
/// signed) against development mode on the same workload, and the agents' peak memory and wire bytes in the demo
/// with mutual TLS and signatures against without. Beside them, Flower's SuperNode authentication on the same task.
enum TrustBenchmark {
    /// A fleet for the workload: a key per device, the aggregator's key and the registry, in a folder.
    struct Fleet {
        let devices: [SigningKey]
        /// The same keys in libsodium (as the aggregator holds its own).
        let fastDevices: [SodiumSigningKey]
        let folder: URL
        let trust: AggregatorConfig.Trust

        init(devices count: Int) throws {
            devices = try (0..<count).map { _ in try SigningKey.generate() }
            fastDevices = try devices.map { try SodiumSigningKey(seed: try $0.seed()) }
            folder = FileManager.default.temporaryDirectory.appendingPathComponent(
                "tributary-bench-trust-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            let aggregator = try SigningKey.generate()
            let key = folder.appendingPathComponent("signing.key").path
            let registry = folder.appendingPathComponent("registry.json").path
            try Data(try aggregator.pem()).write(to: URL(fileURLWithPath: key))
            let entries = devices.enumerated().map {
                FleetRegistry.Device(id: "dev\($0)", publicKey: $1.verifyingKey.hex)
            }
            let file = FleetRegistry(aggregatorKey: aggregator.verifyingKey.hex, devices: entries)
            try Data(file.json).write(to: URL(fileURLWithPath: registry))
            trust = .init(signingKey: key, registry: registry)
        }

        func remove() { try? FileManager.default.removeItem(at: folder) }
    }

    static func run(runs: Int, quick: Bool, only: String?, report: BenchReport) async throws {
        func wanted(_ part: String) -> Bool { only.map { part.contains($0) } ?? true }
        let count = AggregateBenchmark.devices
        progress("trust: \(count) device keys, the aggregator's key and a registry")
        let fleet = try Fleet(devices: count)
        defer { fleet.remove() }
        let plain = try AggregateBenchmark.payloads()
        let signed = try AggregateBenchmark.payloads(signers: fleet.devices)
        let small = try demoSizedUpdates(count)

        if wanted("signature") {
            let workloads = [
                ("demo update (259 parameters, k = 26)", small), ("aggregate-bench update", plain.map(\.bytes)),
            ]
            for (label, messages) in workloads {
                let size = messages.reduce(0) { $0 + $1.count } / messages.count
                var signing: [Double] = []
                var verifying: [Double] = []
                var fastSigning: [Double] = []
                var fastVerifying: [Double] = []
                for _ in 1...runs {
                    let (sign, verify) = signAndVerify(
                        messages, signers: fleet.devices, verifiers: fleet.devices.map(\.verifyingKey))
                    signing.append(sign)
                    verifying.append(verify)
                    let (fastSign, fastVerify) = signAndVerify(
                        messages, signers: fleet.fastDevices,
                        verifiers: try fleet.fastDevices.map { try SodiumVerifyingKey(raw: $0.publicKey) })
                    fastSigning.append(fastSign)
                    fastVerifying.append(fastVerify)
                }
                let name = "Ed25519 per \(label), \(size) bytes"
                report.add(
                    BenchRow(
                        case: "trust", name: name + ": sign", impl: "tributary", samples: signing, unit: "µs",
                        higherIsBetter: false))
                report.add(
                    BenchRow(
                        case: "trust", name: name + ": verify", impl: "tributary", samples: verifying, unit: "µs",
                        higherIsBetter: false))
                let aggregator = "tributary aggregator (libsodium)"
                report.add(
                    BenchRow(
                        case: "trust", name: name + ": sign", impl: aggregator, samples: fastSigning, unit: "µs",
                        higherIsBetter: false))
                report.add(
                    BenchRow(
                        case: "trust", name: name + ": verify", impl: aggregator, samples: fastVerifying, unit: "µs",
                        higherIsBetter: false))
                try libraries(name: name, size: size, runs: runs, report: report)
            }
            let added = zip(plain, signed).map { Double($1.bytes.count - $0.bytes.count) }
            report.add(
                BenchRow(
                    case: "trust", name: "bytes a signature adds to an update (trailer)", impl: "tributary",
                    samples: [added.max()!], unit: "bytes", higherIsBetter: false))
        }

        if wanted("aggregator") {
            try await aggregator(plain: plain, signed: signed, fleet: fleet, runs: runs, report: report)
        }
        var overhead: (up: Double, down: Double)?
        if wanted("agents") {
            overhead = try agents(rounds: quick ? 2 : 5, runs: quick ? 1 : min(runs, 3), report: report)
        }
        if wanted("flower") && !quick { try flower(rounds: 3, ours: overhead, report: report) }
    }

    /// The same signatures in C with libcrypto and with libsodium (`tools/bench/peers/sign_footprint.c`), in a
    /// process with libmosquitto and a TLS context, as an agent has, and with swift-crypto in a Swift program: time,
    /// and what each adds to peak memory.
    static func libraries(name: String, size: Int, runs: Int, report: BenchReport) throws {
        let peer = try PeerPrograms.executable(
            "sign_footprint", libraries: ["-lmosquitto", "-lssl", "-lcrypto", "-ldl"])
        let swiftCrypto = try swiftCryptoPeer()
        for library in ["libcrypto", "libsodium", "swift-crypto"] {
            var fields: [[String: Double]] = []
            for _ in 1...runs {
                let result =
                    library == "swift-crypto"
                    ? try PeerPrograms.run(swiftCrypto, ["1000", "\(size)"])
                    : try PeerPrograms.run(peer, [library, "1000", "\(size)"])
                guard result.status == 0 else {
                    throw PeerPrograms.Failure(description: "sign_footprint \(library) failed (\(result.status))")
                }
                fields.append(PeerPrograms.fields(result.output))
            }
            let impl = library == "swift-crypto" ? "swift-crypto (BoringSSL) in Swift" : "\(library) in C"
            report.add(
                BenchRow(
                    case: "trust", name: name + ": sign", impl: impl, samples: fields.map { $0["sign_us"] ?? 0 },
                    unit: "µs", higherIsBetter: false))
            report.add(
                BenchRow(
                    case: "trust", name: name + ": verify", impl: impl, samples: fields.map { $0["verify_us"] ?? 0 },
                    unit: "µs", higherIsBetter: false))
            report.add(
                BenchRow(
                    case: "trust",
                    name: "peak memory that signing adds to its process (the C one has libmosquitto and TLS loaded)",
                    impl: impl,
                    samples: fields.map { ($0["added_kib"] ?? 0) / 1024 }, unit: "MiB", higherIsBetter: false))
        }
    }

    /// The swift-crypto peer (`tools/bench/peers/swift-crypto-footprint`, its own package), built on first use.
    static func swiftCryptoPeer() throws -> String {
        let package = Repository.root.appendingPathComponent("tools/bench/peers/swift-crypto-footprint")
        let binary = package.appendingPathComponent(".build/release/SwiftCryptoFootprint").path
        if !FileManager.default.isExecutableFile(atPath: binary) {
            progress("building the swift-crypto peer (a minute or two, once)")
            guard
                try runQuietly("/usr/bin/env", ["swift", "build", "-c", "release", "--package-path", package.path])
                    == 0
            else { throw PeerPrograms.Failure(description: "building \(package.path) failed") }
        }
        return binary
    }

    /// Microseconds per message to sign (each with its device's key) and to verify.
    static func signAndVerify(
        _ messages: [[UInt8]], signers keys: [some MessageSigner], verifiers: [some MessageVerifier]
    ) -> (sign: Double, verify: Double) {
        var out: [[UInt8]] = []
        out.reserveCapacity(messages.count)
        let sign = measure {
            for (i, message) in messages.enumerated() { out.append(SignedMessage.sign(message, with: keys[i])) }
        }
        var valid = 0
        let verify = measure {
            for (i, message) in out.enumerated() {
                message.withUnsafeBytes { bytes in
                    if case .success = SignedMessage.verify(bytes, key: verifiers[i]) { valid += 1 }
                }
            }
        }
        precondition(valid == messages.count, "every signature verifies")
        return (sign / Double(messages.count) * 1e6, verify / Double(messages.count) * 1e6)
    }

    /// Updates of the demo's model (softmax 36 → 7, 259 parameters) at k = 10 %, int8.
    static func demoSizedUpdates(_ count: Int) throws -> [[UInt8]] {
        var encoder = try UpdateEncoder(level: 3)
        var random = BenchRandom(seed: 9)
        return try (0..<count).map { d in
            var feedback = ErrorFeedback(dimension: 259)
            let delta = (0..<259).map { _ in Float(random.normal()) * 0.01 }
            let compressed = delta.withUnsafeBufferPointer { feedback.compress($0, k: 26, encoding: .int8) }
            let header = UpdateHeader(
                type: .update, task: "har", round: 7, device: "dev\(d)", sampleWeight: 200, dimension: 259,
                baseModelHash: ModelHash.of([Float](repeating: 0, count: 259)))
            return try encoder.encode(header, compressed)
        }
    }

    /// The aggregate benchmark's workload in development mode and with production mode's checks, the core fed
    /// directly and end to end through Mosquitto.
    static func aggregator(
        plain: [(topic: String, bytes: [UInt8])], signed: [(topic: String, bytes: [UInt8])], fleet: Fleet,
        runs: Int, report: BenchReport
    ) async throws {
        let broker = try await MosquittoBroker.start()
        var core: [String: [Double]] = [:]
        var endToEnd: [String: [Double]] = [:]
        for run in 1...runs {
            core["insecure", default: []].append(try AggregateBenchmark.direct(plain))
            core["production", default: []].append(try AggregateBenchmark.direct(signed, trust: fleet.trust))
            endToEnd["insecure", default: []].append(try await AggregateBenchmark.endToEnd(plain, broker: broker))
            endToEnd["production", default: []].append(
                try await AggregateBenchmark.endToEnd(signed, broker: broker, trust: fleet.trust))
            progress(
                "trust run \(run)/\(runs): core \(Int(core["insecure"]!.last!)) vs \(Int(core["production"]!.last!)) updates/s checked, end to end \(Int(endToEnd["insecure"]!.last!)) vs \(Int(endToEnd["production"]!.last!))"
            )
        }
        await broker.stop()
        let workload = "\(AggregateBenchmark.devices) devices × k=\(AggregateBenchmark.k) updates"
        for (name, samples) in [
            ("aggregator core (decode + aggregate + commit + ack), \(workload), per second", core),
            ("aggregator end to end through Mosquitto, \(workload), per second", endToEnd),
        ] {
            report.add(
                BenchRow(
                    case: "trust", name: name, impl: "tributary", samples: samples["production"]!,
                    unit: "updates/s", higherIsBetter: true))
            report.add(
                BenchRow(
                    case: "trust", name: name, impl: "tributary unchecked (insecure: true)",
                    samples: samples["insecure"]!, unit: "updates/s", higherIsBetter: true))
        }
    }
}
