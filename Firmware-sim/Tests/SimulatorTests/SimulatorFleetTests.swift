import BrokerConnection
import Logging
import MQTT
import SensorFrames
import Simulator
import SimulatorCore
import Testing
import TributaryTestSupport

@Suite(.serialized, .timeLimit(.minutes(2))) struct SimulatorFleetTests {
    @Test(
        "a fleet publishes each device's batches on its own topic, in sequence, exactly as the device generates them, over a connection per device or one for all",
        arguments: [false, true])
    func fleetAgainstBroker(sharedConnection: Bool) async throws {
        try await withBroker { broker in
            var profile = SimProfile()
            profile.devices = 3
            profile.sensor = .imu
            profile.rateHz = 200
            profile.batchFrames = 20
            profile.labels = true
            profile.seed = 77
            let subscriber = try await broker.connectedClient("watch")
            let received = Locked<[String: [[UInt8]]]>([:])
            try await subscriber.subscribe("tributary/v1/dev/+/sensor/imu") { topic, payload in
                let device = String(cString: topic).split(separator: "/")[3]
                received.withLock { $0[String(device), default: []].append([UInt8](payload)) }
            }
            let fleet = SimulatorFleet(
                profile: profile, broker: BrokerSettings(host: broker.host, port: broker.port),
                duration: .seconds(1.2), sharedConnection: sharedConnection, logger: Logger(label: "test.sim"))
            try await fleet.run()
            #expect(await eventually { received.value.values.reduce(0) { $0 + $1.count } == fleet.totals.batches })
            let byDevice = received.value
            #expect(byDevice.keys.sorted() == ["sim-0001", "sim-0002", "sim-0003"])
            for index in 0..<3 {
                var reference = profile.makeDevice(index)
                let batches = byDevice[profile.deviceID(index)] ?? []
                #expect(batches.count >= 5)
                for (n, payload) in batches.enumerated() {
                    let header = try payload.withUnsafeBytes { try SensorBatch.header($0) }
                    #expect(header.sequence == UInt32(n))
                    #expect(header.channels == 7)
                    let identical = payload == reference.nextBatch()?.payload
                    #expect(identical, "device \(index) batch \(n) differs from the device's own generation")
                }
            }
            await subscriber.disconnect()
        }
    }
}
