import Federation
import Foundation
import StreamCore
import SystemSupport
import Testing
import TributaryWire
import UpdateCodec

@testable import Agent

/// The agent without transport: frames through the ring, windows, summaries, updates, saved state, the outbox.
struct AgentCoreTests {
    static let spec = TaskSpec(
        task: "har", model: .init(head: .softmax, inputs: 6, outputs: 2),
        data: .init(
            stream: "imu", channels: [0, 1, 2], labelChannel: 3, windowFrames: 20, hopFrames: 10,
            features: ["mean", "std"]),
        training: .init(learningRate: 0.05), codec: .init(kFraction: 0.5, values: "float32")
    ).sealed()

    /// `count` frames of a two-class stream: class 1 has a large mean on channel 0. Returns how many the ring took.
    @discardableResult
    static func feed(_ core: AgentCore, frames count: Int, from start: Int = 0) -> Int {
        var producer = core.ring.makeProducer()
        var taken = 0
        for n in start..<(start + count) {
            let label: Float = (n / 40) % 2 == 0 ? 0 : 1
            let noise = Float((n &* 2_654_435_761) % 1_000) / 1_000 - 0.5
            let values: [Float] = [label * 3 + noise, noise, -noise, label]
            let pushed = values.withUnsafeBufferPointer { producer.push(timestamp: Int64(n) * 10_000_000, values: $0) }
            if pushed { taken += 1 } else { break }
        }
        return taken
    }

    static func round(_ n: UInt32, model: UInt64) -> RoundAnnouncement {
        RoundAnnouncement(
            task: "har", round: n, specHash: spec.hash!.value, modelHash: model, mode: .sync, deadlineMs: 0,
            selection: Selection(), devices: [], training: LocalTraining(samples: 30))
    }

    static func modelMessage(round: UInt32, parameters: [Float]) throws -> [UInt8] {
        var encoder = try UpdateEncoder(level: 3)
        return try encoder.encodeModel(task: "har", round: round, parameters: parameters)
    }

    @Test("a recording's frames wait in the ring until the task arrives; a live source's stale ones are dropped")
    func framesBeforeTheTask() throws {
        let recording = try AgentCore(device: "a", channels: 4, ringFrames: 256, backpressure: true)
        #expect(Self.feed(recording, frames: 300) == 256, "a full ring refuses frames: the source waits")
        #expect(recording.process() == 0)
        #expect(recording.counters.frames == 0)
        try recording.configure(Self.spec)
        #expect(recording.process() == (256 - 20) / 10 + 1)
        #expect(recording.counters.frames == 250, "every frame in a window, counted once")

        let live = try AgentCore(device: "b", channels: 4, ringFrames: 256)
        Self.feed(live, frames: 100)
        live.process()
        #expect(live.counters.frames == 100)
        try live.configure(Self.spec)
        #expect(live.process() == 0, "the stale frames are gone")
    }

    @Test("the summary counts each frame once although windows overlap, then starts afresh")
    func summary() throws {
        let core = try AgentCore(device: "a", channels: 4, ringFrames: 1_024, backpressure: true)
        try core.configure(Self.spec)
        Self.feed(core, frames: 505)
        core.process()
        let json = try #require(core.takeSummary(stream: "imu"))
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        let channels = try #require(object["channels"] as? [[String: Any]])
        #expect(channels.count == 4)
        #expect(channels.allSatisfy { ($0["count"] as? Int) == 500 }, "\(channels)")
        #expect(object["start"] as? Int == 0 && object["end"] as? Int == 4_990_000_001)
        #expect(core.takeSummary(stream: "imu") == nil)
        Self.feed(core, frames: 100, from: 505)
        core.process()
        let next = try #require(core.takeSummary(stream: "imu"))
        #expect(next.contains("\"count\":100"))
    }

    @Test(
        "an update only for a round that includes the device and holds its model (once per round is the round machine's rule)"
    )
    func updates() throws {
        let core = try AgentCore(device: "a", channels: 4, ringFrames: 2_048, backpressure: true)
        try core.configure(Self.spec)
        Self.feed(core, frames: 1_000)
        core.process()
        #expect(core.bufferedWindows > 50)
        var other = Self.round(1, model: core.globalHash)
        other.devices = ["b"]
        #expect(try core.update(for: other) == nil)
        #expect(try core.update(for: Self.round(1, model: core.globalHash &+ 1)) == nil)
        let payload = try #require(try core.update(for: Self.round(1, model: core.globalHash)))
        var decoder = try UpdateDecoder()
        let decoded = try payload.withUnsafeBytes { try decoder.decode($0, expectedTask: "har", expectedDimension: 14) }
        #expect(decoded.header.round == 1 && decoded.header.device == "a" && decoded.header.sampleWeight == 30)
        #expect(decoded.header.k == 7)
        // A round may ask for another share of the parameters than the task's.
        var denser = Self.round(2, model: core.globalHash)
        denser.training.kFraction = 1
        let full = try #require(try core.update(for: denser))
        let header = try full.withUnsafeBytes { try decoder.decode($0, expectedTask: "har", expectedDimension: 14) }
        #expect(header.header.k == 14)
    }

    @Test("saved state restores the model, the learner, the residual and the rounds exactly; a corrupt one nothing")
    func savedState() throws {
        let first = try AgentCore(device: "a", channels: 4, ringFrames: 2_048, backpressure: true)
        try first.configure(Self.spec)
        Self.feed(first, frames: 1_000)
        first.process()
        _ = try #require(try first.update(for: Self.round(1, model: first.globalHash)))
        let global = (0..<14).map { Float($0) / 20 - 0.3 }
        #expect(first.adopt(model: try Self.modelMessage(round: 2, parameters: global)) == 2)
        let saved = try #require(first.savedState())

        let second = try AgentCore(device: "a", channels: 4, ringFrames: 2_048, backpressure: true)
        try second.configure(Self.spec)
        let fresh = try #require(second.savedState())
        #expect(fresh != saved)
        #expect(try second.restore(saved))
        #expect(second.globalRound == 2 && second.globalHash == first.globalHash)
        #expect(second.lastSentRound == 1)
        #expect(second.savedState() == saved, "learner, residual and global parameters all came back")
        #expect(try second.update(for: Self.round(1, model: second.globalHash)) == nil, "round 1 was sent")

        var corrupt = saved
        corrupt[corrupt.count / 2] ^= 0x40
        let third = try AgentCore(device: "a", channels: 4, backpressure: true)
        try third.configure(Self.spec)
        #expect(throws: WireError.self) { try third.restore(corrupt) }
        #expect(third.globalRound == 0 && third.savedState() == fresh, "a corrupt state changes nothing")

        var otherSpec = Self.spec
        otherSpec.task = "other"
        let fourth = try AgentCore(device: "a", channels: 4, backpressure: true)
        try fourth.configure(otherSpec.sealed())
        #expect(try fourth.restore(saved) == false, "another task's state is not taken")
    }

    @Test("a model message that is not the task's, or whose content does not match its hash, is not adopted")
    func badModels() throws {
        let core = try AgentCore(device: "a", channels: 4, backpressure: true)
        try core.configure(Self.spec)
        let before = core.globalHash
        #expect(core.adopt(model: try Self.modelMessage(round: 2, parameters: [Float](repeating: 1, count: 13))) == nil)
        var encoder = try UpdateEncoder(level: 3)
        let otherTask = try encoder.encodeModel(
            task: "other", round: 2, parameters: [Float](repeating: 1, count: 14))
        #expect(core.adopt(model: otherTask) == nil)
        #expect(core.adopt(model: Array("not a model".utf8)) == nil)
        #expect(core.globalHash == before && core.counters.models == 0)
    }

    @Test("the outbox keeps payloads across reopening until they are removed")
    func outbox() throws {
        var template = Array("/tmp/tributary-outbox-XXXXXX".utf8CString)
        let directory = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)!) }
        let outbox = try Outbox(directory: directory + "/outbox")
        try outbox.put([1, 2, 3], round: 7)
        try outbox.put([4], round: 3)
        let reopened = try Outbox(directory: directory + "/outbox")
        #expect(try reopened.rounds() == [3, 7])
        #expect(try reopened.payload(7) == [1, 2, 3])
        try reopened.remove(3)
        try reopened.remove(3)  // already gone: not an error
        #expect(try Outbox(directory: directory + "/outbox").rounds() == [7])
        // A directory that cannot be made is an error naming the call and the path, not a silent nil.
        #expect(throws: SystemError.self) { try Outbox(directory: "/proc/tributary-no/outbox") }
        #expect(throws: SystemError.self) { try outbox.payload(99) }
    }
}
