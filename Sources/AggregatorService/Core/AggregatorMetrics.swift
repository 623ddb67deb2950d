import CoreMetrics
public import Prometheus

/// The aggregator's metrics (swift-metrics, exported by a Prometheus registry at `/metrics`).
public final class AggregatorMetrics: Sendable {
    /// The registry `/metrics` renders.
    public let registry: PrometheusCollectorRegistry
    let factory: PrometheusMetricsFactory
    let accepted: CoreMetrics.Counter
    let duplicates: CoreMetrics.Counter
    let clipped: CoreMetrics.Counter
    let bytesIn: CoreMetrics.Counter
    let bytesOut: CoreMetrics.Counter
    let roundsAggregated: CoreMetrics.Counter
    let roundsFailed: CoreMetrics.Counter
    let round: CoreMetrics.Gauge
    let participants: CoreMetrics.Gauge
    let modelNorm: CoreMetrics.Gauge
    let updateNorm: CoreMetrics.Gauge
    let evaluationAccuracy: CoreMetrics.Gauge
    let evaluationLoss: CoreMetrics.Gauge
    let aggregationTime: CoreMetrics.Timer
    let commitTime: CoreMetrics.Timer
    let inboxShed: CoreMetrics.Gauge
    /// Messages dropped because their device was over its budget (`limits.update_burst`, …).
    let rateLimited: CoreMetrics.Gauge
    /// Errors of the HTTP endpoint after it started (it keeps listening, or listens again).
    let httpErrors: CoreMetrics.Counter
    /// Times the retained messages were published again (a reconnect, a stale copy on the broker).
    let republished: CoreMetrics.Counter
    /// The federation epoch's low 32 bits (a state reset shows as a change).
    let epoch: CoreMetrics.Gauge

    /// Metrics in a registry of their own.
    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
        let factory = PrometheusMetricsFactory(registry: registry)
        self.factory = factory
        accepted = CoreMetrics.Counter(label: "tributary_updates_accepted_total", factory: factory)
        duplicates = CoreMetrics.Counter(label: "tributary_updates_duplicate_total", factory: factory)
        clipped = CoreMetrics.Counter(label: "tributary_updates_clipped_total", factory: factory)
        bytesIn = CoreMetrics.Counter(label: "tributary_update_bytes_in_total", factory: factory)
        bytesOut = CoreMetrics.Counter(label: "tributary_bytes_out_total", factory: factory)
        roundsAggregated = CoreMetrics.Counter(
            label: "tributary_rounds_total", dimensions: [("status", "aggregated")], factory: factory)
        roundsFailed = CoreMetrics.Counter(
            label: "tributary_rounds_total", dimensions: [("status", "failed")], factory: factory)
        round = CoreMetrics.Gauge(label: "tributary_round", factory: factory)
        participants = CoreMetrics.Gauge(label: "tributary_round_participants", factory: factory)
        modelNorm = CoreMetrics.Gauge(label: "tributary_model_norm", factory: factory)
        updateNorm = CoreMetrics.Gauge(label: "tributary_update_norm", factory: factory)
        evaluationAccuracy = CoreMetrics.Gauge(label: "tributary_evaluation_accuracy", factory: factory)
        evaluationLoss = CoreMetrics.Gauge(label: "tributary_evaluation_loss", factory: factory)
        aggregationTime = CoreMetrics.Timer(label: "tributary_aggregation_seconds", factory: factory)
        commitTime = CoreMetrics.Timer(label: "tributary_commit_seconds", factory: factory)
        inboxShed = CoreMetrics.Gauge(label: "tributary_inbox_shed_total", factory: factory)
        rateLimited = CoreMetrics.Gauge(label: "tributary_rate_limited_total", factory: factory)
        httpErrors = CoreMetrics.Counter(label: "tributary_http_errors_total", factory: factory)
        republished = CoreMetrics.Counter(label: "tributary_retained_republished_total", factory: factory)
        epoch = CoreMetrics.Gauge(label: "tributary_epoch", factory: factory)
    }

    /// Counts a rejected update under its reason.
    func rejected(_ reason: String) {
        CoreMetrics.Counter(
            label: "tributary_updates_rejected_total", dimensions: [("reason", reason)], factory: factory
        ).increment()
    }

    /// The Prometheus text exposition.
    public var text: String { registry.emitToString() }
}

extension CoreMetrics.Timer {
    /// Records a measured `Duration`.
    func record(_ duration: Duration) {
        recordNanoseconds(duration.components.seconds * 1_000_000_000 + duration.components.attoseconds / 1_000_000_000)
    }
}
