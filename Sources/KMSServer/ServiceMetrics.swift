import Metrics
import NIOCore
import Synchronization

/// kmsd's metrics through swift-metrics (kmsd exports them in Prometheus's format). Handles are
/// made once per label set and kept, so the hot path only increments. One instance per kmsd,
/// handed to every part that counts: a test gives a part its own, over MetricsTestKit's
/// factory, and reads what that part alone counted.
public final class ServiceMetrics: Sendable {
    private let factory: any MetricsFactory
    private struct RequestKey: Hashable {
        let operation: String
        let result: String
    }
    private let requests = Mutex<[RequestKey: Counter]>([:])
    private let durations = Mutex<[String: Metrics.Timer]>([:])
    private let workerCalls = Mutex<[String: Metrics.Timer]>([:])
    private let jobFailures = Mutex<[String: Counter]>([:])
    let cacheHits: Counter
    let cacheMisses: Counter
    let auditBatchSize: Recorder
    let auditCommit: Metrics.Timer
    /// Commits of audit records that failed (each try once, retries back off).
    let auditFailures: Counter
    /// Times the audit log could not be written (one per outage, however long).
    let auditOutages: Counter
    /// Requests whose results were withheld because their records were not committed in time.
    let auditWithheld: Counter
    /// Records of refused requests dropped while the log could not be written (past its backlog).
    let auditRecordsDropped: Counter
    /// Checkpoints kms-cryptod did not make, or that could not be stored (the records were).
    let auditCheckpointFailures: Counter
    /// Database calls on the request path (key loads, metadata changes, lists): how many are in
    /// flight against the pool's size, how long they take, how many fail.
    private let databaseInFlight = Atomic<Int>(0)
    let databaseInFlightGauge: Gauge
    let databasePoolSize: Gauge
    let databaseCall: Metrics.Timer
    let databaseFailures: Counter

    /// `factory`: where the handles are made; by default the process's bootstrapped one.
    public init(factory: any MetricsFactory = MetricsSystem.factory) {
        self.factory = factory
        self.cacheHits = Counter(label: "kms_cache_lookups_total", dimensions: [("result", "hit")], factory: factory)
        self.cacheMisses = Counter(label: "kms_cache_lookups_total", dimensions: [("result", "miss")], factory: factory)
        self.auditBatchSize = Recorder(label: "kms_audit_batch_records", aggregate: true, factory: factory)
        self.auditCommit = Metrics.Timer(label: "kms_audit_commit_duration_seconds", factory: factory)
        self.auditFailures = Counter(label: "kms_audit_commit_failures_total", factory: factory)
        self.auditOutages = Counter(label: "kms_audit_outages_total", factory: factory)
        self.auditWithheld = Counter(label: "kms_audit_withheld_results_total", factory: factory)
        self.auditRecordsDropped = Counter(label: "kms_audit_records_dropped_total", factory: factory)
        self.auditCheckpointFailures = Counter(label: "kms_audit_checkpoint_failures_total", factory: factory)
        self.databaseInFlightGauge = Gauge(label: "kms_database_calls_in_flight", factory: factory)
        self.databasePoolSize = Gauge(label: "kms_database_pool_connections", factory: factory)
        self.databaseCall = Metrics.Timer(label: "kms_database_call_duration_seconds", factory: factory)
        self.databaseFailures = Counter(label: "kms_database_call_failures_total", factory: factory)
    }

    func databaseCallStarted() {
        self.databaseInFlightGauge.record(self.databaseInFlight.wrappingAdd(1, ordering: .relaxed).newValue)
    }

    func databaseCallEnded(duration: Duration, failed: Bool) {
        self.databaseInFlightGauge.record(self.databaseInFlight.wrappingSubtract(1, ordering: .relaxed).newValue)
        self.databaseCall.recordNanoseconds(TimeAmount(duration).nanoseconds)
        if failed { self.databaseFailures.increment() }
    }

    /// The configured maximum of database connections, for kms_database_pool_connections.
    public func setDatabasePoolSize(_ connections: Int) {
        self.databasePoolSize.record(connections)
    }

    /// Requests by operation and result ("ok" or the error code).
    func request(_ operation: String, result: String, duration: Duration) {
        // A pair, not the two joined: joining allocated a string a request.
        let key = RequestKey(operation: operation, result: result)
        let counter = self.requests.withLock { counters in
            if let counter = counters[key] { return counter }
            let counter = Counter(
                label: "kms_requests_total", dimensions: [("operation", operation), ("result", result)],
                factory: self.factory)
            counters[key] = counter
            return counter
        }
        counter.increment()
        let timer = self.durations.withLock { timers in
            if let timer = timers[operation] { return timer }
            let timer = Metrics.Timer(
                label: "kms_request_duration_seconds", dimensions: [("operation", operation)], factory: self.factory)
            timers[operation] = timer
            return timer
        }
        timer.recordNanoseconds(TimeAmount(duration).nanoseconds)
    }

    /// kms-cryptod round trips by method.
    func workerCall(_ method: String, duration: Duration) {
        let timer = self.workerCalls.withLock { timers in
            if let timer = timers[method] { return timer }
            let timer = Metrics.Timer(
                label: "kms_worker_call_duration_seconds", dimensions: [("method", method)], factory: self.factory)
            timers[method] = timer
            return timer
        }
        timer.recordNanoseconds(TimeAmount(duration).nanoseconds)
    }

    /// Failures of a background job (restarted or ending the process), by job.
    func backgroundJobFailed(_ job: String) {
        let counter = self.jobFailures.withLock { counters in
            if let counter = counters[job] { return counter }
            let counter = Counter(
                label: "kms_background_job_failures_total", dimensions: [("job", job)], factory: self.factory)
            counters[job] = counter
            return counter
        }
        counter.increment()
    }
}
