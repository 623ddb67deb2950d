import Federation
import Foundation
import Glibc
import SensorFrames
import Testing
import TributaryTestSupport

/// What an agent survives, and reports in its status: sensor rejections by reason, duplicates, an outbox the
/// disk will not keep (the update is then not sent).
@Suite(.serialized) struct HealthTests {
    @Test("the MQTT sensor topic: good, duplicate, corrupt and oversized batches are each counted in the status")
    func ingestCounters() async throws {
        try await withMQTTAgent("h1", settings: "max_sensor_bytes: 512") { broker, watcher, log in
            let client = try await broker.connectedClient("sensor")
            func batch(_ sequence: UInt32, frames: Int = 4) -> [UInt8] {
                SensorBatch.encode(
                    sequence: sequence, channels: 2, values: [Float](repeating: 1, count: 2 * frames),
                    base: Int64(sequence) * 1_000, timing: .fixedPeriod(100))
            }
            var corrupt = batch(3)
            corrupt[corrupt.count - 1] ^= 0xFF
            for payload in [batch(1), batch(2), batch(2), corrupt, batch(4, frames: 100), batch(5)] {
                try await client.publishConfirmed("tributary/v1/dev/h1/sensor/imu", payload: payload)
            }
            let counted = await eventually(timeout: .seconds(20)) {
                let m = watcher.status("h1")?.metrics ?? [:]
                return m["ingest_batches"] == 3 && m["ingest_duplicates"] == 1
                    && m["ingest_rejected_bad_checksum"] == 1 && m["ingest_rejected_too_large"] == 1
                    && m["ingest_rejected"] == 2 && m["ingest_frames"] == 12
            }
            #expect(counted, "\(String(describing: watcher.status("h1")?.metrics)) \(log())")
            #expect(log().contains("rejected a sensor batch"), "rejections are logged with their reason")
            await client.disconnect()
        }
    }

    @Test("the agent announces its largest packet (MQTT 5): the broker never delivers a larger sensor message")
    func maximumPacket() async throws {
        // Packets up to 64 KiB + 64 KiB: a 4 KiB batch arrives (and is refused by the 512-byte sensor limit), a
        // 1 MiB one is dropped by the broker before the agent reads a byte of it.
        try await withMQTTAgent("p1", settings: "max_sensor_bytes: 512\nmax_control_bytes: 65536") {
            broker, watcher, log in
            let client = try await broker.connectedClient("sensor")
            let topic = "tributary/v1/dev/p1/sensor/imu"
            try await client.publishConfirmed(topic, payload: [UInt8](repeating: 7, count: 4_096))
            try await client.publishConfirmed(topic, payload: [UInt8](repeating: 7, count: 1 << 20))
            let good = SensorBatch.encode(
                sequence: 1, channels: 2, values: [1, 2, 3, 4], base: 1_000, timing: .fixedPeriod(100))
            try await client.publishConfirmed(topic, payload: good)
            #expect(
                await eventually(timeout: .seconds(20)) { watcher.status("p1")?.metrics?["ingest_batches"] == 1 },
                "\(String(describing: watcher.status("p1")?.metrics)) \(log())")
            let metrics = watcher.status("p1")?.metrics ?? [:]
            #expect(metrics["ingest_rejected_too_large"] == 1, "only the 4 KiB message reached the agent: \(metrics)")
            await client.disconnect()
        }
    }

    /// A `tributary-agent` reading its sensor over MQTT (`source.kind: mqtt`, two channels, a status every 0.2 s)
    /// with `settings` added to its configuration, and a watcher of its status; `body` gets the broker, the
    /// watcher and the agent's log. The agent must stop cleanly (exit 0) afterwards.
    func withMQTTAgent(
        _ device: String, settings: String,
        _ body: (MosquittoBroker, Watcher, @escaping () -> String) async throws -> Void
    ) async throws {
        try await withBroker { broker in
            var template = Array("/tmp/tributary-agent-health-XXXXXX".utf8CString)
            let directory = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)!) }
            let yaml = """
                device_id: \(device)
                insecure: true
                broker: {host: 127.0.0.1, port: \(broker.port)}
                state_dir: \(directory)/state
                source: {kind: mqtt, stream: imu, channels: 2}
                status_interval_s: 0.2
                \(settings)
                """
            try yaml.write(toFile: "\(directory)/agent.yaml", atomically: true, encoding: .utf8)
            let watcher = try await Watcher(broker: broker)
            let agent = try ChildProcess(
                builtExecutable("tributary-agent"), ["--config", "\(directory)/agent.yaml"],
                standardOutput: "\(directory)/agent.log")
            let log = { (try? String(contentsOfFile: "\(directory)/agent.log", encoding: .utf8)) ?? "" }
            #expect(await eventually { watcher.status(device)?.isOnline == true }, "\(log())")
            try await body(broker, watcher, log)
            #expect(await agent.terminate(grace: .seconds(15)) == 0)
            await watcher.close()
        }
    }

    @Test("an outbox the disk will not keep: the update is not sent, and the failure is in the status and the log")
    func durability() async throws {
        try await withBroker { broker in
            var setup = Fleet.Setup()
            setup.devices = 1
            setup.minParticipants = 1
            setup.rounds = 2
            setup.roundSeconds = 3
            try await withFleet(broker, setup) { fleet in
                // Before the first round's update: the outbox directory becomes a file (even root cannot write
                // under it).
                #expect(await eventually(timeout: .seconds(30)) { fleet.log("agent-d1").contains("agent d1 for task") })
                let outbox = "\(fleet.directory)/agent-d1/outbox"
                try? FileManager.default.removeItem(atPath: outbox)
                _ = FileManager.default.createFile(atPath: outbox, contents: Data("not a directory".utf8))
                #expect(await fleet.waitForRoundEnd(1), "\(fleet.logs)")
                #expect(
                    await eventually(timeout: .seconds(20)) {
                        (fleet.watcher.status("d1")?.metrics?["durability_errors"] ?? 0) >= 1
                    }, "\(fleet.logs)")
                #expect(fleet.log("agent-d1").contains("keeping the update for round 1 in the outbox"))
                #expect(fleet.watcher.senders(round: 1).isEmpty, "an update that was not kept must not be sent")
                #expect(fleet.watcher.metrics(1)?.status == .failed)
            }
        }
    }
}
