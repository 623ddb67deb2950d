import ArgumentParser
import BrokerCommandLine
import BrokerConnection
import Logging
import ServiceLifecycle
import Simulator
import SimulatorCore

/// `tributary-sim`: simulated sensor firmware for test rigs.
@main
struct TributarySim: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tributary-sim",
        abstract: "Simulate a fleet of sensor devices publishing sensor frame batches over MQTT.",
        discussion: """
            Each device samples its sensor model at a fixed rate, fills a batch and publishes it on \
            {prefix}/dev/{device}/sensor/{stream}, over its own MQTT connection, or over one for all with a \
            client certificate (--tls-cert: a provisioned publisher, `tributary provision add-publisher`, is one \
            MQTT identity) or --one-connection. The same seed gives the same samples and faults. Profiles: Configs/sim/*.yaml. Stops on SIGINT/SIGTERM (or after --duration).
            """
    )

    @Option(help: "A YAML profile (see Configs/sim/); flags below override it.")
    var profile: String?

    @OptionGroup(title: "Broker")
    var broker: BrokerOptions

    @Option(help: "Number of devices (at most 300 per process: libmosquitto's select() loop).")
    var devices: Int?

    @Option(help: "Number of the first device (several simulator processes share out a larger fleet).")
    var firstDevice = 1

    @Option(help: "Samples per second per device.")
    var rate: Double?

    @Option(help: "Sensor: \(SensorKind.allCases.map(\.rawValue).joined(separator: ", ")).")
    var sensor: String?

    @Option(help: "Random seed.")
    var seed: UInt64?

    @Option(help: "Stop after this many seconds.")
    var duration: Double?

    @Flag(help: "Append a label channel to every frame.")
    var labels = false

    @Flag(help: "Publish every device's batches over one MQTT connection (implied by --tls-cert).")
    var oneConnection = false

    func validate() throws {
        if let sensor, SensorKind(rawValue: sensor) == nil {
            throw ValidationError("unknown sensor '\(sensor)'")
        }
        if let devices, !(1...300).contains(devices) {
            throw ValidationError(
                "--devices must be 1…300 per process (libmosquitto's select() loop cannot watch more than 1024 descriptors); start several simulators with --first-device"
            )
        }
        guard firstDevice >= 1 else { throw ValidationError("--first-device must be at least 1") }
        if let duration, duration <= 0 { throw ValidationError("--duration must be positive") }
    }

    func run() async throws {
        LoggingSystem.bootstrap { StreamLogHandler.standardError(label: $0) }
        var settings = try profile.map { try SimProfile.load(path: $0) } ?? SimProfile()
        if let devices { settings.devices = devices }
        settings.firstDevice = firstDevice - 1
        if let rate { settings.rateHz = rate }
        if let sensor, let kind = SensorKind(rawValue: sensor) {
            settings.sensor = kind
            if profile == nil { settings.stream = kind.rawValue }
        }
        if let seed { settings.seed = seed }
        if labels { settings.labels = true }
        do { try settings.validate() } catch { throw ValidationError(error.description) }
        let logger = Logger(label: "tributary.sim")
        let brokerSettings = try broker.settings(over: BrokerSettings())
        var identified = false
        if case .tls(let tls) = brokerSettings.transport, tls.identity != nil { identified = true }
        let fleet = SimulatorFleet(
            profile: settings, broker: brokerSettings, duration: duration.map { .seconds($0) },
            sharedConnection: oneConnection || identified, logger: logger)
        let group = ServiceGroup(
            configuration: .init(
                services: [.init(service: fleet, successTerminationBehavior: .gracefullyShutdownGroup)],
                gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}
