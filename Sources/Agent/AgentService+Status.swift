import Federation
import Glibc
import SystemSupport

extension AgentService {
    /// The full status: counters of the pipeline, of the ingest (accepted, rejected by reason, duplicates,
    /// gaps, ring drops) and of what the agent survived (durability and publication errors).
    func status(_ core: AgentCore, state: String) -> [UInt8] {
        var metrics: [String: Double] = [
            "frames": Double(core.counters.frames), "windows": Double(core.counters.windows),
            "updates_sent": Double(core.counters.updates), "update_bytes": Double(core.counters.updateBytes),
            "model_bytes": Double(core.counters.modelBytes),
            "model_deltas": Double(core.counters.modelDeltas), "buffered_windows": Double(core.bufferedWindows),
            "models_refused": Double(core.counters.modelsRefused),
        ]
        metrics.merge(core.ingest.snapshot.metrics) { a, _ in a }
        let health = health.withLock { $0 }
        metrics["durability_errors"] = Double(health.durabilityErrors)
        metrics["publish_errors"] = Double(health.publishErrors)
        metrics["updates_rejected"] = Double(health.rejectedUpdates)
        metrics["control_too_large"] = Double(health.oversizedControl)
        for (reason, count) in health.ignoredControl { metrics["ignored_\(reason)"] = Double(count) }
        if trust != nil {
            metrics["unsigned_control"] = Double(health.unsignedControl)
            metrics["forged_control"] = Double(health.forgedControl)
        }
        if let accuracy = core.globalHoldoutAccuracy { metrics["holdout_accuracy"] = accuracy }
        if let local = core.localAccuracy {
            metrics["prequential_accuracy"] = local.prequential
            metrics["local_holdout_accuracy"] = local.holdout
        }
        metrics["resident_mib"] = Double(residentBytes()) / 1_048_576
        for (key, value) in metrics { metrics[key] = rounded(value) }
        var status = DeviceStatus(
            device: core.device, state: state, version: "tributary-agent 0.1", round: core.globalRound,
            metrics: metrics)
        status.modelHash = HexHash(core.globalHash)
        return signed(status.json)
    }

    /// A JSON message of this device's: signed in production.
    func signed(_ json: [UInt8]) -> [UInt8] { trust.map { $0.seal(json) } ?? json }
}

/// Four decimals are plenty for a status, and keep it short on the wire.
func rounded(_ value: Double) -> Double { (value * 10_000).rounded() / 10_000 }

/// Resident set size of this process (from /proc/self/statm); 0 where there is none.
func residentBytes() -> Int {
    guard let text = try? FileIO.readAll("/proc/self/statm"), let line = String(validating: text, as: UTF8.self)
    else {
        return 0
    }
    let fields = line.split(separator: " ")
    guard fields.count > 1, let pages = Int(fields[1]) else { return 0 }
    return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
}
