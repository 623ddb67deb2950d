import Documents

/// The fleet's registry file (`registry.json`, written by `tributary provision`, read by the aggregator): every
/// enrolled device with its Ed25519 public key and status, and the aggregator's public key. The aggregator
/// imports it into its SQLite state at start and whenever the file changes; a device that is not listed is
/// unknown. See docs/trust.md.
public struct FleetRegistry: Codable, Sendable, Hashable {
    /// A device's status.
    public enum Status: String, Codable, Sendable, Hashable {
        /// Its updates and statuses count.
        case active
        /// Refused by the aggregator (`revoked`) and, through the CA's revocation list, by the broker.
        case revoked
    }

    /// One enrolled device.
    public struct Device: Codable, Sendable, Hashable {
        /// Device id (its certificate's common name and MQTT username).
        public var id: String
        /// Its Ed25519 public key, 64 lowercase hex digits.
        public var publicKey: String
        /// Active or revoked.
        public var status: Status

        /// An entry.
        public init(id: String, publicKey: String, status: Status = .active) {
            self.id = id
            self.publicKey = publicKey
            self.status = status
        }
    }

    /// Format version, 1.
    public var v = 1
    /// The aggregator's Ed25519 public key (64 hex digits): what agents verify publications with.
    public var aggregatorKey: String
    /// Devices, sorted by id.
    public var devices: [Device]

    /// A registry.
    public init(aggregatorKey: String, devices: [Device] = []) {
        self.aggregatorKey = aggregatorKey
        self.devices = devices
    }

    /// Largest registry file read (about 400,000 devices).
    public static let maxBytes = 64 << 20

    /// The registry in `bytes`, checked: version 1, valid and unique ids, keys of 64 hex digits.
    public static func decode(_ bytes: [UInt8]) throws(ProtocolError) -> FleetRegistry {
        guard bytes.count <= maxBytes else {
            throw ProtocolError(.tooLarge, "a registry of \(bytes.count) bytes (limit \(maxBytes))")
        }
        let registry: FleetRegistry
        do {
            registry = try DocumentDecoder().decode(
                FleetRegistry.self, from: YAMLParser.parse(utf8: bytes, maxBytes: maxBytes))
        } catch {
            throw ProtocolError(.malformed, "the registry: \(error)")
        }
        guard registry.v == 1 else { throw ProtocolError(.unsupportedVersion, "registry version \(registry.v)") }
        guard Self.isKey(registry.aggregatorKey) else {
            throw ProtocolError(.invalidField, "the registry's aggregator_key is not 64 hex digits")
        }
        var seen = Set<String>()
        for device in registry.devices {
            guard Topics.isValidID(device.id) else {
                throw ProtocolError(.invalidField, "the registry lists an invalid device id '\(device.id)'")
            }
            guard seen.insert(device.id).inserted else {
                throw ProtocolError(.invalidField, "the registry lists \(device.id) twice")
            }
            guard Self.isKey(device.publicKey) else {
                throw ProtocolError(.invalidField, "\(device.id)'s public_key is not 64 hex digits")
            }
        }
        return registry
    }

    /// The JSON text, devices sorted by id, one per line (diffs stay readable).
    public var json: [UInt8] {
        var text = "{\"aggregator_key\":\"\(aggregatorKey)\",\"v\":\(v),\"devices\":["
        for (i, device) in devices.sorted(by: { $0.id.utf8.lexicographicallyPrecedes($1.id.utf8) }).enumerated() {
            text += (i == 0 ? "\n" : ",\n")
            text +=
                "{\"id\":\"\(device.id)\",\"public_key\":\"\(device.publicKey)\",\"status\":\"\(device.status.rawValue)\"}"
        }
        text += "\n]}\n"
        return Array(text.utf8)
    }

    static func isKey(_ text: String) -> Bool {
        text.utf8.count == 64 && text.utf8.allSatisfy { (48...57).contains($0) || (97...102).contains($0) }
    }
}
