import Foundation
import Simulator
import SimulatorCore
import Testing
import TributaryTestSupport

@Suite struct SimProfileTests {
    @Test(
        "every shipped profile in Configs/sim parses and validates",
        arguments: ["imu-fleet", "vibration", "motor", "temperature"])
    func shipped(name: String) throws {
        let path = Repository.root.appendingPathComponent("Configs/sim/\(name).yaml").path
        let profile = try SimProfile.load(path: path)
        #expect(profile.devices > 0)
        let device = profile.makeDevice(0)
        #expect(device.channels == device.channelNames.count)
        #expect(profile.topic(device: device.id).hasPrefix("tributary/v1/dev/"))
    }

    @Test("missing keys take defaults; bad values are refused with an explanation")
    func validation() throws {
        let minimal = try SimProfile.parse(yaml: "devices: 3\nsensor: motor\n")
        #expect(minimal.devices == 3 && minimal.stream == "motor" && minimal.rateHz == 50)
        #expect(minimal.deviceID(0) == "sim-0001")
        for bad in [
            "devices: 0", "rate_hz: -1", "format: int8", "qos: 3", "stream: a/b", "format: int16\nint16_scales: [0]",
        ] {
            #expect(throws: SimProfile.Invalid.self, "\(bad)") { _ = try SimProfile.parse(yaml: bad) }
        }
        #expect(throws: (any Error).self) { _ = try SimProfile.parse(yaml: "sensor: lidar") }
    }
}
