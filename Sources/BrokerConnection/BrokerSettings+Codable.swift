/// The configuration file's `broker:` section:
///
/// ```yaml
/// broker:
///   host: 127.0.0.1
///   port: 8883
///   client_id: null            # the program's own
///   keepalive_s: 30
///   clean_session: null        # the program's own
///   tls:                       # absent: plain TCP
///     ca_file: ca.pem
///     cert_file: device.pem    # with key_file: mutual TLS
///     key_file: device.key
///     verify_hostname: true
///   username: dev-0001         # absent: anonymous
///   password_file: null        # or password_env (default TRIBUTARY_MQTT_PASSWORD)
///   password_env: null
/// ```
///
/// Decoding refuses what ``BrokerSettings`` cannot represent, naming the key: a certificate without its key, a
/// password source without a username, a password file and a variable at once.
extension BrokerSettings: Codable {
    enum Keys: String, CodingKey {
        case host, port
        case clientID = "client_id"
        case keepaliveS = "keepalive_s"
        case cleanSession = "clean_session"
        case tls, username
        case passwordFile = "password_file"
        case passwordEnv = "password_env"
    }

    enum TLSKeys: String, CodingKey {
        case caFile = "ca_file"
        case certFile = "cert_file"
        case keyFile = "key_file"
        case verifyHostname = "verify_hostname"
    }

    /// The `tls:` section as written, before it is checked.
    struct TLSFields: Decodable {
        var caFile: String?
        var certFile: String?
        var keyFile: String?
        var verifyHostname: Bool?

        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: TLSKeys.self)
            caFile = try c.decodeIfPresent(String.self, forKey: .caFile)
            certFile = try c.decodeIfPresent(String.self, forKey: .certFile)
            keyFile = try c.decodeIfPresent(String.self, forKey: .keyFile)
            verifyHostname = try c.decodeIfPresent(Bool.self, forKey: .verifyHostname)
        }
    }

    /// Decodes the section; every key is read before anything is checked, so a problem names the right key.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: Keys.self)
        let defaults = BrokerSettings()
        host = try c.decodeIfPresent(String.self, forKey: .host) ?? defaults.host
        port = try c.decodeIfPresent(Int.self, forKey: .port) ?? defaults.port
        clientID = try c.decodeIfPresent(String.self, forKey: .clientID)
        let keepalive = try c.decodeIfPresent(Double.self, forKey: .keepaliveS) ?? 30
        cleanSession = try c.decodeIfPresent(Bool.self, forKey: .cleanSession)
        let tls = try c.decodeIfPresent(TLSFields.self, forKey: .tls)
        let username = try c.decodeIfPresent(String.self, forKey: .username)
        let passwordFile = try c.decodeIfPresent(String.self, forKey: .passwordFile)
        let passwordEnv = try c.decodeIfPresent(String.self, forKey: .passwordEnv)

        func invalid(_ key: some CodingKey, _ container: KeyedDecodingContainer<some CodingKey>, _ problem: String)
            -> DecodingError
        {
            .dataCorrupted(.init(codingPath: container.codingPath + [key], debugDescription: problem))
        }
        guard keepalive >= 1, keepalive <= 65_535 else {
            throw invalid(Keys.keepaliveS, c, "must be 1…65535 seconds")
        }
        keepAlive = .milliseconds(Int64(keepalive * 1_000))
        if let tls {
            let t = try c.nestedContainer(keyedBy: TLSKeys.self, forKey: .tls)
            guard let ca = tls.caFile, !ca.isEmpty else { throw invalid(TLSKeys.caFile, t, "is required with tls") }
            var identity: Identity?
            switch (tls.certFile, tls.keyFile) {
            case (let cert?, let key?): identity = Identity(certificateFile: cert, keyFile: key)
            case (nil, nil): identity = nil
            case (nil, _?): throw invalid(TLSKeys.certFile, t, "is required with key_file")
            case (_?, nil): throw invalid(TLSKeys.keyFile, t, "is required with cert_file")
            }
            transport = .tls(TLS(caFile: ca, identity: identity, verifyHostname: tls.verifyHostname ?? true))
        } else {
            transport = .plaintext
        }
        guard passwordFile == nil || passwordEnv == nil else {
            throw invalid(Keys.passwordFile, c, "give password_file or password_env, not both")
        }
        if let username {
            guard !username.isEmpty else { throw invalid(Keys.username, c, "is empty") }
            let source: PasswordSource =
                passwordFile.map { .file($0) } ?? .environment(passwordEnv ?? Self.defaultPasswordVariable)
            authentication = .username(username, password: source)
        } else {
            guard passwordFile == nil, passwordEnv == nil else {
                throw invalid(passwordFile == nil ? Keys.passwordEnv : Keys.passwordFile, c, "needs a username")
            }
            authentication = .anonymous
        }
    }

    /// Encodes the section as it is read (for `--check` and for the defaults a file is laid over).
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Keys.self)
        try c.encode(host, forKey: .host)
        try c.encode(port, forKey: .port)
        try c.encodeIfPresent(clientID, forKey: .clientID)
        let milliseconds =
            keepAlive.components.seconds * 1_000 + keepAlive.components.attoseconds / 1_000_000_000_000_000
        try c.encode(Double(milliseconds) / 1_000, forKey: .keepaliveS)
        try c.encodeIfPresent(cleanSession, forKey: .cleanSession)
        if let tls {
            var t = c.nestedContainer(keyedBy: TLSKeys.self, forKey: .tls)
            try t.encode(tls.caFile, forKey: .caFile)
            try t.encodeIfPresent(tls.identity?.certificateFile, forKey: .certFile)
            try t.encodeIfPresent(tls.identity?.keyFile, forKey: .keyFile)
            try t.encode(tls.verifyHostname, forKey: .verifyHostname)
        }
        if case .username(let name, let source) = authentication {
            try c.encode(name, forKey: .username)
            switch source {
            case .none: break
            case .file(let path): try c.encode(path, forKey: .passwordFile)
            case .environment(let name): try c.encode(name, forKey: .passwordEnv)
            }
        }
    }
}
