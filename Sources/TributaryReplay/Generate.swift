import ArgumentParser
import Replay
import Simulator
import SimulatorCore

struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a recording of a simulated device (the firmware simulator's sensor models).",
        discussion: "Deterministic: the same profile and seed give the same samples. Faults come from the profile.")

    @Argument(help: "Output recording (.trec).")
    var output: String

    @Option(help: "A simulator profile (Configs/sim/*.yaml); flags below override it.")
    var profile: String?

    @Option(help: "Sensor: \(SensorKind.allCases.map(\.rawValue).joined(separator: ", ")).")
    var sensor: String?

    @Option(help: "Samples per second.")
    var rate: Double?

    @Option(help: "Seconds of data.")
    var seconds = 60.0

    @Option(help: "Random seed.")
    var seed: UInt64?

    @Option(help: "Which device of the profile (0-based).")
    var device = 0

    @Flag(help: "Add the label channel (the sensor's state).")
    var labels = false

    @Flag(help: "Store int16 × scale, as the profile's ADC would.")
    var int16 = false

    @Flag(help: "fsync after every chunk (slower; what a crash-safety test wants).")
    var syncEveryChunk = false

    @Option(help: "Frames per chunk.")
    var chunkFrames = 8_192

    func validate() throws {
        guard output.hasSuffix(".trec") else { throw ValidationError("the output must be a .trec file") }
        if let sensor, SensorKind(rawValue: sensor) == nil { throw ValidationError("unknown sensor '\(sensor)'") }
        guard seconds > 0, seconds.isFinite else { throw ValidationError("--seconds must be positive") }
        guard device >= 0 else { throw ValidationError("--device must be 0 or more") }
        guard (1...1_000_000).contains(chunkFrames) else { throw ValidationError("--chunk-frames must be 1…1000000") }
    }

    func run() throws {
        var settings: SimProfile
        do { settings = try profile.map { try SimProfile.load(path: $0) } ?? SimProfile() } catch {
            throw fail(ReplayError(.invalidInput, "\(profile ?? ""): \(error)"))
        }
        if let sensor, let kind = SensorKind(rawValue: sensor) {
            settings.sensor = kind
            if profile == nil { settings.stream = kind.rawValue }
        }
        if let rate { settings.rateHz = rate }
        if let seed { settings.seed = seed }
        if labels { settings.labels = true }
        if int16 { settings.format = "int16" }
        settings.devices = max(settings.devices, device + 1)
        do { try settings.validate() } catch { throw ValidationError(error.description) }
        var generator = SyntheticRecording(profile: settings, seconds: seconds)
        generator.deviceIndex = device
        generator.chunkFrames = chunkFrames
        if syncEveryChunk { generator.sync = .everyChunk }
        let bar = ProgressBar("generate", total: Int(seconds * settings.rateHz), unit: "frames")
        do {
            let frames = try generator.write(to: output) { done, _ in bar.update(done) }
            bar.finish(frames)
        } catch { throw fail(ReplayError(error)) }
    }
}
