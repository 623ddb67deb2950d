import ArgumentParser
import Foundation
import Provisioning

/// `tributary provision …`: a fleet's CA, broker, aggregator and device credentials.
struct Provision: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create and manage a fleet's credentials: CA, broker, aggregator, devices, publishers.",
        discussion: """
            Everything lives in one fleet directory (--dir). Private keys are written 0600 and never printed;
            the CA key (ca/ca.key) signs every certificate: keep the directory on the operator's machine, and
            copy to each device only its folder (devices/ID). Every command is safe to run again.

              tributary provision init --dir fleet --broker-host mqtt.example.org
              tributary provision add-device --dir fleet watch-1 watch-2
              tributary provision add-publisher --dir fleet replay --devices watch-1,watch-2
              tributary provision revoke --dir fleet watch-2        # then restart the broker
              mosquitto -c fleet/broker/mosquitto.conf
            See docs/trust.md.
            """,
        subcommands: [Initialize.self, AddDevice.self, AddPublisher.self, AddObserver.self, Revoke.self, List.self])

    struct Directory: ParsableArguments {
        @Option(name: .long, help: "The fleet directory.")
        var dir: String = "fleet"

        func provisioner() -> Provisioner {
            Provisioner(root: URL(fileURLWithPath: dir)) { print($0) }
        }
    }

    static func run(_ body: () throws -> Void) throws {
        do { try body() } catch let error as ProvisionError {
            FileHandle.standardError.write(Data("tributary provision: \(error)\n".utf8))
            throw ExitCode(1)
        }
    }

    struct Initialize: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "init",
            abstract:
                "Create the fleet (CA, broker certificate and configuration, aggregator identity), or complete it.")

        @OptionGroup var directory: Directory
        @Option(name: .long, help: "Fleet name (the CA's common name).")
        var name = "Tributary fleet"
        @Option(
            name: .long,
            help: "A name or address clients reach the broker at (repeat; the first is used in configurations).")
        var brokerHost: [String] = []
        @Option(name: .long, help: "The broker's TLS port.")
        var port = 8883
        @Option(name: .long, help: "The address the broker listens on (default: every interface).")
        var listen = ""
        @Option(name: .long, help: "Topic prefix the ACL is written for.")
        var prefix = "tributary/v1"
        @Option(name: .long, help: "Days each certificate is valid.")
        var days = 825
        @Option(name: .long, help: "The system user Mosquitto runs as (it must own the broker folder).")
        var brokerUser = "mosquitto"

        func run() throws {
            var settings = Provisioner.Settings()
            settings.name = name
            if !brokerHost.isEmpty { settings.brokerNames = brokerHost }
            settings.port = port
            settings.listen = listen
            settings.prefix = prefix
            settings.days = days
            settings.brokerUser = brokerUser
            try Provision.run {
                let provisioner = directory.provisioner()
                try provisioner.initialize(settings)
                print("broker configuration: \(provisioner.layout.brokerConfiguration)")
                print("aggregator settings: \(provisioner.layout.folder(client: "aggregator"))/aggregator.yaml")
            }
        }
    }

    struct AddDevice: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Enrol devices: client certificate, TLS key, signing key and agent settings in devices/ID.")

        @OptionGroup var directory: Directory
        @Argument(help: "Device ids.")
        var ids: [String]

        func run() throws { try Provision.run { try directory.provisioner().addDevices(ids) } }
    }

    struct AddPublisher: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "A broker client that may write the sensor topics of the given devices only (replay, simulator).")

        @OptionGroup var directory: Directory
        @Argument(help: "The publisher's name (its MQTT username).")
        var name: String
        @Option(name: .long, help: "Comma-separated device ids whose sensor topics it may write.")
        var devices: String

        func run() throws {
            let list = devices.split(separator: ",").map(String.init)
            try Provision.run { try directory.provisioner().addPublisher(name, devices: list) }
        }
    }

    struct AddObserver: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "A broker client that reads every topic of the federation and writes none (monitoring).")

        @OptionGroup var directory: Directory
        @Argument(help: "The observer's name (its MQTT username).")
        var name: String

        func run() throws { try Provision.run { try directory.provisioner().addObserver(name) } }
    }

    struct Revoke: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Revoke devices or publishers: refused by the aggregator at once, by the broker once restarted.")

        @OptionGroup var directory: Directory
        @Argument(help: "Device ids or publisher names.")
        var ids: [String]

        func run() throws { try Provision.run { try directory.provisioner().revoke(ids) } }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the fleet's identities and their status.")

        @OptionGroup var directory: Directory

        func run() throws {
            try Provision.run {
                guard let state = try directory.provisioner().readState() else {
                    throw ProvisionError.noFleet(directory.dir)
                }
                print("fleet '\(state.name)', broker \(state.brokerNames[0]):\(state.port), prefix \(state.prefix)")
                for device in state.devices {
                    print("device     \(device.id)  \(device.status)  serial \(device.serial)")
                }
                for client in state.clients {
                    let scope = client.devices.map { " (sensor topics of \($0.joined(separator: ", ")))" } ?? ""
                    print("client     \(client.id)  \(client.status)  serial \(client.serial)\(scope)")
                }
            }
        }
    }
}
