/// The files `tributary provision` derives from a fleet's state: the broker's configuration and ACL, and each
/// program's broker and trust settings.
enum BrokerFiles {
    static let header =
        "# Written by `tributary provision` from fleet.json; it is rewritten on every change: edit fleet.json's\n# settings through the tool, not this file.\n"

    /// Mosquitto's configuration: mutual TLS only, the certificate's common name as username and client id (so no
    /// client can take another's id), the ACL, the revocation list, and the limits of Configs/mosquitto.
    static func mosquittoConfiguration(_ state: FleetState, _ layout: FleetLayout) -> String {
        """
        \(header)#
        #   mosquitto -c \(layout.brokerConfiguration)
        #
        # The broker folder is all Mosquitto needs; it runs as \(state.brokerUser), who must own the folder
        # (chown -R \(state.brokerUser) \(layout.path("broker"))). Mosquitto reads the revocation list at start:
        # restart it after `tributary provision revoke`.

        per_listener_settings false
        user \(state.brokerUser)
        listener \(state.port)\(state.listen.isEmpty ? "" : " " + state.listen)
        cafile \(layout.brokerCA)
        certfile \(layout.brokerCertificate)
        keyfile \(layout.brokerKey)
        crlfile \(layout.revocationList)
        tls_version tlsv1.2
        # Every client shows a certificate of the fleet CA; its common name is its username and its client id.
        require_certificate true
        use_identity_as_username true
        use_username_as_clientid true
        allow_anonymous false
        acl_file \(layout.acl)

        persistence true
        persistence_location \(layout.path("broker", "data"))/
        autosave_interval 60
        log_dest stdout
        log_type error
        log_type warning
        log_type notice
        connection_messages true

        # Limits: see Configs/mosquitto/dev.conf for why each is set.
        max_queued_messages 1000000
        max_queued_bytes 1073741824
        max_inflight_messages 100
        max_packet_size 16777216
        max_keepalive 300
        max_connections 20000

        """
    }

    /// The ACL: each device inside its own topics, the aggregator over the federation's, each publisher on the
    /// sensor topics of its devices.
    static func acl(_ state: FleetState) -> String {
        let p = state.prefix
        var text = """
            \(header)
            # Every device (username = its certificate's common name = its id): its own sensor, status and summary
            # topics, its own updates; it reads what the aggregator publishes for all and its own acknowledgements.
            # Only the topics a device writes (no other subtopic of its own to fill with retained messages).
            pattern read \(p)/dev/%u/#
            pattern write \(p)/dev/%u/status
            pattern write \(p)/dev/%u/summary
            pattern write \(p)/dev/%u/sensor/+
            pattern write \(p)/fl/+/update/%u
            pattern read \(p)/fl/+/spec
            pattern read \(p)/fl/+/round
            pattern read \(p)/fl/+/model
            pattern read \(p)/fl/+/model/delta
            pattern read \(p)/fl/+/metrics
            pattern read \(p)/fl/+/ack/%u

            # The aggregator runs the rounds.
            user aggregator
            topic readwrite \(p)/fl/#
            topic read \(p)/dev/+/status
            topic read \(p)/dev/+/summary

            """
        for client in state.clients where client.id != "aggregator" && client.status == "active" {
            if client.observer == true {
                text +=
                    "\n# Observer \(client.id): reads everything, writes nothing.\nuser \(client.id)\ntopic read \(p)/#\n"
                continue
            }
            text += "\n# Publisher \(client.id): the sensor topics of its devices only.\nuser \(client.id)\n"
            for device in client.devices ?? [] { text += "topic write \(p)/dev/\(device)/sensor/#\n" }
        }
        return text
    }

    /// The `broker:` section of a client's configuration.
    static func brokerSection(folder: String, _ state: FleetState) -> String {
        """
        broker:
          host: \(state.brokerNames[0])
          port: \(state.port)
          tls: {ca_file: \(folder)/ca.crt, cert_file: \(folder)/tls.crt, key_file: \(folder)/tls.key}
        """
    }

    /// A device's agent configuration: identity, broker, keys (add its source and settings).
    static func agentConfiguration(_ id: String, _ state: FleetState, _ layout: FleetLayout) -> String {
        let folder = layout.folder(device: id)
        return """
            \(header)# The agent of device \(id) (production mode). Add the source and other settings of Configs/agent.yaml.
            device_id: \(id)
            prefix: \(state.prefix)
            \(brokerSection(folder: folder, state))
            trust:
              signing_key: \(folder)/signing.key
              aggregator_key: \(state.aggregatorKey)

            """
    }

    /// The aggregator's broker and trust settings, or a publisher's broker settings.
    static func clientConfiguration(_ id: String, _ state: FleetState, _ layout: FleetLayout) -> String {
        let folder = layout.folder(client: id)
        if id == "aggregator" {
            return """
                \(header)# The aggregator's broker and trust settings (production mode): add the task and the rest of
                # Configs/aggregator.yaml.
                prefix: \(state.prefix)
                \(brokerSection(folder: folder, state))
                trust:
                  signing_key: \(folder)/signing.key
                  registry: \(layout.registry)

                """
        }
        return """
            \(header)# Publisher \(id): may write the sensor topics of \((state.clients.first { $0.id == id }?.devices ?? []).joined(separator: ", ")).
            \(brokerSection(folder: folder, state))

            """
    }
}
