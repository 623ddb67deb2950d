import Federation
public import Foundation
import SystemSupport
import Trust

/// A provisioning step that cannot be done: the message says what and why.
public struct ProvisionError: Error, Sendable, CustomStringConvertible {
    /// What went wrong.
    public let description: String

    init(_ description: String) { self.description = description }

    /// A directory without a fleet.
    public static func noFleet(_ directory: String) -> ProvisionError {
        ProvisionError("\(directory) holds no fleet: run 'tributary provision init' first")
    }
}

/// `tributary provision`'s work on a fleet directory: a CA, the broker's certificate and configuration, one
/// identity per device (TLS client certificate and key, Ed25519 signing key, an agent configuration), the
/// aggregator's identity and signing key, publishers for the replay tool and the simulator, and revocation.
///
/// Every operation is idempotent: what exists is kept (a key is never replaced), what is missing is made, and the
/// derived files (registry, ACL, revocation list, broker configuration) are written again from `fleet.json`.
/// Private keys are written 0600 in folders 0700; nothing secret is printed.
public struct Provisioner: Sendable {
    /// The fleet directory's files.
    public let layout: FleetLayout
    /// Progress lines for the operator (paths and ids, never key material).
    public let say: @Sendable (String) -> Void

    /// A provisioner for the fleet directory `root`.
    public init(root: URL, say: @escaping @Sendable (String) -> Void = { _ in }) {
        layout = FleetLayout(root: root)
        self.say = say
    }

    /// What `init` is told.
    public struct Settings: Sendable, Hashable {
        /// The fleet's name (the CA's common name).
        public var name = "Tributary fleet"
        /// Topic prefix.
        public var prefix = "tributary/v1"
        /// The broker's names and addresses, as clients reach it (the first one goes into the configurations).
        public var brokerNames = ["127.0.0.1", "localhost"]
        /// The broker's TLS port.
        public var port = 8883
        /// The address it listens on (empty: every interface).
        public var listen = ""
        /// Days each certificate is valid.
        public var days = 825
        /// The system user Mosquitto runs as.
        public var brokerUser = "mosquitto"

        /// Defaults.
        public init() {}
    }

    /// Creates the fleet (or completes it): the CA, the broker's certificate, the aggregator's identity and
    /// signing key; then writes the derived files. Settings of an existing fleet are kept unless they differ
    /// (then the broker's certificate is issued again for the new names).
    @discardableResult
    public func initialize(_ settings: Settings) throws -> FleetState {
        for name in settings.brokerNames where name.isEmpty || name.contains(",") {
            throw ProvisionError("'\(name)' is not a host name or address")
        }
        guard (1...65_535).contains(settings.port) else { throw ProvisionError("the port must be 1…65535") }
        guard settings.days >= 1 else { throw ProvisionError("certificates must be valid at least a day") }
        try makeFolder(layout.root.path, private: false)
        try makeFolder(layout.path("ca"), private: true)
        try makeFolder(layout.path("broker"), private: true)
        try makeFolder(layout.path("broker", "data"), private: true)
        let ca = try certificateAuthority(name: settings.name, days: settings.days)
        let aggregatorKey = try signingKey(in: layout.folder(client: "aggregator"))
        var state =
            try readState()
            ?? FleetState(
                name: settings.name, prefix: settings.prefix, brokerNames: settings.brokerNames, port: settings.port,
                listen: settings.listen, days: settings.days, brokerUser: settings.brokerUser,
                aggregatorKey: aggregatorKey.verifyingKey.hex)
        let renamed = state.brokerNames != settings.brokerNames
        state.prefix = settings.prefix
        state.brokerNames = settings.brokerNames
        state.port = settings.port
        state.listen = settings.listen
        state.days = settings.days
        state.brokerUser = settings.brokerUser
        if renamed || !exists(layout.brokerCertificate) {
            let key = try tlsKey(at: layout.brokerKey)
            let cert = try ca.issue(
                commonName: settings.brokerNames[0], key: key, usage: .server(names: settings.brokerNames),
                days: settings.days)
            try write(layout.brokerCertificate, cert.pem())
            say("broker certificate for \(settings.brokerNames.joined(separator: ", ")): \(layout.brokerCertificate)")
        }
        try write(layout.brokerCA, ca.certificate.pem())
        if !state.clients.contains(where: { $0.id == "aggregator" }) {
            state.clients.append(try issueClient("aggregator", ca: ca, state: state))
        }
        try save(state)
        return state
    }

    /// Enrols devices: a TLS client certificate (common name = device id), its key, an Ed25519 signing key and
    /// an agent configuration each, in `devices/ID/`. A device enrolled already is left as it is; a revoked id
    /// is refused (enrol the device under a new id).
    public func addDevices(_ ids: [String]) throws {
        var state = try requireState()
        let ca = try certificateAuthority(name: state.name, days: state.days)
        for id in ids {
            guard Topics.isValidID(id) else { throw ProvisionError("'\(id)' is not a valid device id") }
            guard !state.clients.contains(where: { $0.id == id }) else {
                throw ProvisionError("'\(id)' is the name of a broker client (aggregator or publisher)")
            }
            if let existing = state.devices.first(where: { $0.id == id }) {
                if existing.status == "revoked" {
                    throw ProvisionError("\(id) was revoked; a revoked id is not enrolled again (use a new id)")
                }
                say("\(id): enrolled already")
                continue
            }
            var identity = try issueClient(id, ca: ca, state: state, device: true)
            identity.publicKey = try signingKey(in: layout.folder(device: id)).verifyingKey.hex
            state.devices.append(identity)
            say("\(id): enrolled, credentials in \(layout.folder(device: id))")
        }
        state.devices.sort { $0.id.utf8.lexicographicallyPrecedes($1.id.utf8) }
        try save(state)
    }

    /// A broker client that may write the sensor topics of `devices` only (the replay tool or the simulator).
    public func addPublisher(_ name: String, devices: [String]) throws {
        var state = try requireState()
        guard Topics.isValidID(name), name != "aggregator" else {
            throw ProvisionError("'\(name)' is not a valid name")
        }
        guard !state.devices.contains(where: { $0.id == name }) else {
            throw ProvisionError("'\(name)' is a device id")
        }
        for device in devices where !Topics.isValidID(device) {
            throw ProvisionError("'\(device)' is not a valid device id")
        }
        if let index = state.clients.firstIndex(where: { $0.id == name }) {
            guard state.clients[index].status == "active" else { throw ProvisionError("\(name) was revoked") }
            state.clients[index].devices = Array(Set(devices + (state.clients[index].devices ?? []))).sorted()
            say("\(name): may write the sensor topics of \(state.clients[index].devices!.count) devices")
        } else {
            let ca = try certificateAuthority(name: state.name, days: state.days)
            var identity = try issueClient(name, ca: ca, state: state)
            identity.devices = Array(Set(devices)).sorted()
            state.clients.append(identity)
            say("\(name): publisher for \(devices.count) devices, credentials in \(layout.folder(client: name))")
        }
        try save(state)
    }

    /// A broker client that may read everything of the federation and write nothing (a monitor, a dashboard).
    public func addObserver(_ name: String) throws {
        var state = try requireState()
        guard Topics.isValidID(name), name != "aggregator", !state.devices.contains(where: { $0.id == name }) else {
            throw ProvisionError("'\(name)' is not a valid observer name (nor a device id)")
        }
        if state.clients.contains(where: { $0.id == name }) {
            say("\(name): exists already")
        } else {
            let ca = try certificateAuthority(name: state.name, days: state.days)
            var identity = try issueClient(name, ca: ca, state: state)
            identity.observer = true
            state.clients.append(identity)
            say("\(name): read-only observer, credentials in \(layout.folder(client: name))")
        }
        try save(state)
    }

    /// Revokes devices or publishers: their certificates go into the broker's revocation list (effective when
    /// the broker restarts: Mosquitto reads the list at start) and devices are marked revoked in the registry
    /// (effective within a second at the aggregator).
    public func revoke(_ ids: [String]) throws {
        var state = try requireState()
        for id in ids {
            if let index = state.devices.firstIndex(where: { $0.id == id }) {
                state.devices[index].status = "revoked"
            } else if let index = state.clients.firstIndex(where: { $0.id == id }), id != "aggregator" {
                state.clients[index].status = "revoked"
            } else {
                throw ProvisionError("\(id) is not enrolled")
            }
            say("\(id): revoked (restart the broker to close its connection and refuse it)")
        }
        try save(state)
    }

    /// The fleet's state, if the directory holds one.
    public func readState() throws -> FleetState? {
        guard exists(layout.state) else { return nil }
        do {
            let decoder = JSONDecoder()
            decoder.keyDecodingStrategy = .convertFromSnakeCase
            return try decoder.decode(FleetState.self, from: Data(contentsOf: URL(fileURLWithPath: layout.state)))
        } catch {
            throw ProvisionError("\(layout.state) is not a fleet state file: \(error)")
        }
    }

    func requireState() throws -> FleetState {
        guard let state = try readState() else {
            throw ProvisionError.noFleet(layout.root.path)
        }
        return state
    }

    /// Writes the state, then every file derived from it.
    func save(_ state: FleetState) throws {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try write(layout.state, Array(try encoder.encode(state)) + [10])
        let ca = try certificateAuthority(name: state.name, days: state.days)
        try write(layout.revocationList, ca.revocationList(serials: state.revokedSerials, days: state.days))
        try write(layout.acl, Array(BrokerFiles.acl(state).utf8))
        try write(layout.brokerConfiguration, Array(BrokerFiles.mosquittoConfiguration(state, layout).utf8))
        let registry = FleetRegistry(
            aggregatorKey: state.aggregatorKey,
            devices: state.devices.map {
                .init(id: $0.id, publicKey: $0.publicKey ?? "", status: $0.status == "revoked" ? .revoked : .active)
            })
        try write(layout.registry, registry.json)
        for device in state.devices {
            try write(
                layout.path("devices", device.id, "agent.yaml"),
                Array(BrokerFiles.agentConfiguration(device.id, state, layout).utf8))
        }
        for client in state.clients {
            try write(
                layout.path("clients", client.id, client.id == "aggregator" ? "aggregator.yaml" : "broker.yaml"),
                Array(BrokerFiles.clientConfiguration(client.id, state, layout).utf8))
        }
    }

    // MARK: Keys and certificates

    func certificateAuthority(name: String, days: Int) throws -> CertificateAuthority {
        if exists(layout.caKey) {
            return CertificateAuthority(
                key: try TLSKey(pem: try read(layout.caKey)),
                certificate: try Certificate(pem: try read(layout.caCertificate)))
        }
        let ca = try CertificateAuthority.create(name: name, days: max(days, 3_650))
        try write(layout.caKey, try ca.key.pem(), secret: true)
        try write(layout.caCertificate, try ca.certificate.pem())
        say(
            "fleet CA '\(name)': \(layout.caCertificate) (its key \(layout.caKey) signs every certificate: keep it offline)"
        )
        return ca
    }

    /// A client's TLS identity in its folder, and the CA's certificate beside it (the folder is what the client
    /// needs).
    func issueClient(_ id: String, ca: CertificateAuthority, state: FleetState, device: Bool = false) throws
        -> FleetState.Identity
    {
        let folder = device ? layout.folder(device: id) : layout.folder(client: id)
        try makeFolder(folder, private: true)
        let key = try tlsKey(at: folder + "/tls.key")
        let certificate: Certificate
        if exists(folder + "/tls.crt") {
            certificate = try Certificate(pem: read(folder + "/tls.crt"))
        } else {
            certificate = try ca.issue(commonName: id, key: key, usage: .client, days: state.days)
            try write(folder + "/tls.crt", certificate.pem())
        }
        try write(folder + "/ca.crt", ca.certificate.pem())
        return FleetState.Identity(
            id: id, serial: String(certificate.serial, radix: 16), publicKey: nil, devices: nil, status: "active")
    }

    func tlsKey(at path: String) throws -> TLSKey {
        if exists(path) { return try TLSKey(pem: read(path)) }
        let key = try TLSKey.generate()
        try write(path, key.pem(), secret: true)
        return key
    }

    func signingKey(in folder: String) throws -> SigningKey {
        try makeFolder(folder, private: true)
        let path = folder + "/signing.key"
        if exists(path) { return try SigningKey(pem: read(path)) }
        let key = try SigningKey.generate()
        try write(path, key.pem(), secret: true)
        try write(folder + "/signing.pub", key.verifyingKey.pem())
        return key
    }

    // MARK: Files

    func exists(_ path: String) -> Bool { FileManager.default.fileExists(atPath: path) }

    func read(_ path: String) throws -> [UInt8] {
        do { return try FileIO.readAll(path) } catch { throw ProvisionError("cannot read \(path): \(error)") }
    }

    func write(_ path: String, _ bytes: [UInt8], secret: Bool = false) throws {
        do {
            try FileIO.replace(path, with: bytes, mode: secret ? 0o600 : 0o644)
            if secret { _ = chmod(path, 0o600) }
        } catch {
            throw ProvisionError("cannot write \(path): \(error)")
        }
    }

    func makeFolder(_ path: String, private: Bool) throws {
        do { try FileIO.makeDirectories(path, mode: `private` ? 0o700 : 0o755) } catch {
            throw ProvisionError("cannot make \(path): \(error)")
        }
    }
}
