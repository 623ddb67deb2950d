public import Foundation

/// What `tributary provision` knows about a fleet (`fleet.json` in the fleet directory; public information only,
/// no key is in it): the broker's names, the CA's settings, every identity it issued with its certificate's serial
/// and status. Everything else in the directory is either a secret it created once (CA and private keys) or a
/// file it derives from this state each time (registry, ACL, revocation list, broker and program configurations).
public struct FleetState: Codable, Sendable, Hashable {
    /// A device, or another client of the broker.
    public struct Identity: Codable, Sendable, Hashable {
        /// Device id, or the client's name (`aggregator`, a replay or simulator user).
        public var id: String
        /// Its client certificate's serial number (16 hex digits).
        public var serial: String
        /// Devices: the Ed25519 public key (64 hex digits); nil for other clients.
        public var publicKey: String?
        /// Publishers: the devices whose sensor topics it may write.
        public var devices: [String]?
        /// `active` or `revoked`.
        public var status: String
        /// Observers: read-only access to every topic of the federation.
        public var observer: Bool?
    }

    /// Format version.
    public var v = 1
    /// The fleet's name (the CA's common name).
    public var name: String
    /// Topic prefix the ACL is written for.
    public var prefix: String
    /// The broker's host names and addresses (its certificate's subject alternative names).
    public var brokerNames: [String]
    /// The broker's TLS port.
    public var port: Int
    /// The address the broker listens on (empty: every interface).
    public var listen: String
    /// Days each certificate is valid.
    public var days: Int
    /// The system user Mosquitto runs as (it must own the `broker` folder).
    public var brokerUser: String
    /// The aggregator's Ed25519 public key.
    public var aggregatorKey: String
    /// Devices.
    public var devices: [Identity] = []
    /// The aggregator and the publishers (replay, simulator).
    public var clients: [Identity] = []

    /// Revoked serials (for the CRL).
    var revokedSerials: [UInt64] {
        (devices + clients).filter { $0.status == "revoked" }.compactMap { UInt64($0.serial, radix: 16) }.sorted()
    }
}

/// Where each file of a fleet directory is.
public struct FleetLayout: Sendable, Hashable {
    /// The fleet directory.
    public let root: URL

    /// A layout under `root`.
    public init(root: URL) { self.root = root }

    func path(_ components: String...) -> String {
        components.reduce(root) { $0.appendingPathComponent($1) }.path
    }

    /// `fleet.json`.
    public var state: String { path("fleet.json") }
    /// The CA's certificate (what every client and the broker trust).
    public var caCertificate: String { path("ca", "ca.crt") }
    /// The CA's private key.
    public var caKey: String { path("ca", "ca.key") }
    /// The registry the aggregator reads.
    public var registry: String { path("registry.json") }
    /// The CA's certificate beside the broker's files (the `broker` folder is all the broker needs).
    public var brokerCA: String { path("broker", "ca.crt") }
    /// The broker's configuration.
    public var brokerConfiguration: String { path("broker", "mosquitto.conf") }
    /// The broker's ACL.
    public var acl: String { path("broker", "acl") }
    /// The broker's revocation list.
    public var revocationList: String { path("broker", "revoked.crl") }
    /// The broker's certificate.
    public var brokerCertificate: String { path("broker", "server.crt") }
    /// The broker's private key.
    public var brokerKey: String { path("broker", "server.key") }
    /// A client's folder (`devices/ID` or `clients/NAME`).
    public func folder(device id: String) -> String { path("devices", id) }
    /// A non-device client's folder.
    public func folder(client name: String) -> String { path("clients", name) }
}
