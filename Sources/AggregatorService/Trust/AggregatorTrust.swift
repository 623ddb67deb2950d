import Federation
import Foundation
public import Logging
import Sodium
import Synchronization
import SystemSupport
import TributaryWire
import Trust
import UpdateCodec

/// Production mode's side of the aggregator: its signing key (everything it publishes is signed) and the device
/// registry (every update and status must be signed by an enrolled, active device). The registry file is imported
/// into the state database at start and again within a second of any change to it. Thread-safe: the table is
/// an immutable dictionary swapped under a lock, so checks can run on any thread.
public final class AggregatorTrust: Sendable {
    /// What the registry holds for one device.
    struct Entry: Sendable {
        var key: SodiumVerifyingKey
        var revoked: Bool
    }

    /// The aggregator's key, held by libsodium, which signs the acknowledgements and the rest in 70 % of
    /// libcrypto's time (libcrypto only reads the PEM file).
    let signer: SodiumSigningKey
    /// Its public half: what partials and a root's announcements are checked with.
    let verifier: SodiumVerifyingKey
    let registryPath: String
    let store: StateStore
    let logger: Logger
    let table = Mutex<[String: Entry]>([:])
    let fileStamp = Mutex<Date?>(nil)
    let lastLook = Mutex<Int64>(0)

    /// Reads the signing key and imports the registry (the last import stays in force if the file is missing
    /// or invalid; with neither, no device is enrolled).
    public init(signingKey: String, registry: String, store: StateStore, logger: Logger, now: Int64) throws {
        let pem: [UInt8]
        do { pem = try FileIO.readAll(signingKey) } catch {
            throw TrustError(.file, "trust.signing_key: cannot read \(signingKey): \(error)")
        }
        let seed: [UInt8]
        do { seed = try SigningKey(pem: pem).seed() } catch {
            throw TrustError(.invalidKey, "trust.signing_key \(signingKey): \(error.message)")
        }
        do {
            signer = try SodiumSigningKey(seed: seed)
            verifier = try SodiumVerifyingKey(raw: signer.publicKey)
        } catch {
            throw TrustError(.invalidKey, "trust.signing_key \(signingKey): \(error)")
        }
        registryPath = registry
        self.store = store
        self.logger = logger
        if !reload(now: now) {
            let stored = try store.registry()
            install(
                stored.map {
                    FleetRegistry.Device(
                        id: $0.id, publicKey: $0.publicKey, status: .init(rawValue: $0.status) ?? .revoked)
                })
            logger.warning("using the registry of the last import: \(stored.count) devices")
        }
    }

    /// Whether `device` is in the registry (active or revoked).
    public func isEnrolled(_ device: String) -> Bool { table.withLock { $0[device] != nil } }

    /// Devices enrolled and active.
    public var activeDevices: Int { table.withLock { $0.values.count { !$0.revoked } } }

    /// Looks at the registry file at most once a second; imports it when it changed. Returns the devices that
    /// became revoked or were removed (the round logic takes them offline).
    public func refresh(now: Int64) -> [String] {
        let due = lastLook.withLock { last in
            guard now - last >= 1_000 else { return false }
            last = now
            return true
        }
        guard due else { return [] }
        let stamp = try? FileManager.default.attributesOfItem(atPath: registryPath)[.modificationDate] as? Date
        guard let stamp, stamp != fileStamp.withLock({ $0 }) else { return [] }
        let before = table.withLock { $0 }
        guard reload(now: now) else { return [] }
        let after = table.withLock { $0 }
        return before.compactMap { id, entry in
            !entry.revoked && (after[id]?.revoked ?? true) ? id : nil
        }.sorted()
    }

    /// Reads and imports the registry file; false (logged) when it cannot be used.
    @discardableResult
    func reload(now: Int64) -> Bool {
        let stamp = try? FileManager.default.attributesOfItem(atPath: registryPath)[.modificationDate] as? Date
        let registry: FleetRegistry
        do {
            registry = try FleetRegistry.decode(try FileIO.readAll(registryPath))
        } catch {
            logger.error("trust.registry \(registryPath) not imported: \(error)")
            fileStamp.withLock { $0 = stamp }
            return false
        }
        guard registry.aggregatorKey == Hex.encode(signer.publicKey) else {
            logger.error(
                "trust.registry \(registryPath) names another aggregator key than trust.signing_key's: not imported")
            fileStamp.withLock { $0 = stamp }
            return false
        }
        do {
            try store.replaceRegistry(
                registry.devices.map { .init(id: $0.id, publicKey: $0.publicKey, status: $0.status.rawValue) },
                at: now)
        } catch {
            logger.error("storing the registry: \(error)")
            return false
        }
        install(registry.devices)
        fileStamp.withLock { $0 = stamp }
        let revoked = registry.devices.count { $0.status == .revoked }
        logger.info("registry imported: \(registry.devices.count - revoked) active devices, \(revoked) revoked")
        return true
    }

    func install(_ devices: [FleetRegistry.Device]) {
        var fresh: [String: Entry] = [:]
        for device in devices {
            guard let raw = Hex.decode(device.publicKey), let key = try? SodiumVerifyingKey(raw: raw) else { continue }
            fresh[device.id] = Entry(key: key, revoked: device.status == .revoked)
        }
        table.withLock { $0 = fresh }
    }

    /// The key of an enrolled device, or the reason it has none.
    func key(of device: String) -> Result<SodiumVerifyingKey, Refusal> {
        guard let entry = table.withLock({ $0[device] }) else { return .failure(.unknownDevice) }
        return entry.revoked ? .failure(.revoked) : .success(entry.key)
    }

    /// Why a device's message was refused.
    public enum Refusal: String, Error, Sendable, Hashable {
        /// Not in the registry.
        case unknownDevice = "unknown_device"
        /// Revoked.
        case revoked
        /// No signature.
        case unsigned
        /// A signature trailer that does not fit the message.
        case malformedSignature = "malformed_signature"
        /// A signature the key does not verify.
        case badSignature = "bad_signature"
    }

    /// Checks an update message from `device` (the topic's): enrolled, active, signed by its key. Nothing of the
    /// message is decoded.
    public func check(update payload: UnsafeRawBufferPointer, device: String) -> Refusal? {
        switch key(of: device) {
        case .failure(let refusal): return refusal
        case .success(let key):
            switch SignedMessage.verify(payload, key: key) {
            case .success: return nil
            case .failure(.unsigned): return .unsigned
            case .failure(.malformed): return .malformedSignature
            case .failure(.badSignature): return .badSignature
            }
        }
    }

    /// The signed body of a JSON message from `device` (its status), or why it is refused.
    public func open(json payload: [UInt8], from device: String) -> Result<[UInt8], Refusal> {
        key(of: device).flatMap { key in
            SignedJSON.verify(payload, key: key).mapError { $0 == .unsigned ? .unsigned : .badSignature }
        }
    }

    /// The signed body of a JSON message from an aggregator of this federation (a partial, a root's
    /// announcement): they share the key.
    public func open(aggregatorJSON payload: [UInt8]) -> Result<[UInt8], Refusal> {
        SignedJSON.verify(payload, key: verifier).mapError { $0 == .unsigned ? .unsigned : .badSignature }
    }

    /// `message` signed: JSON gets its `sig` member, binary messages their trailer.
    public func sign(_ message: Outgoing) -> Outgoing {
        var signed = message
        signed.payload =
            message.payload.first == UInt8(ascii: "{")
            ? SignedJSON.seal(message.payload, with: signer) : SignedMessage.sign(message.payload, with: signer)
        return signed
    }
}

/// The outcome of an update's registry and signature check made ahead of its decoding
/// (``AggregatorCore/checkSignatures(_:)``).
public struct SignatureCheck: Sendable, Hashable {
    /// The topic's device, the check was made for.
    public var device: String
    /// Why it is refused; nil: enrolled, active, and its signature verifies.
    public var refusal: AggregatorTrust.Refusal?

    /// An outcome.
    public init(device: String, refusal: AggregatorTrust.Refusal?) {
        self.device = device
        self.refusal = refusal
    }
}
