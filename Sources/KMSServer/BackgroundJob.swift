import KMSRPC
import Logging
import ServiceLifecycle

/// What kmsd does when one of its background jobs fails: throws, or ends while no shutdown was
/// asked for.
public enum JobFailurePolicy: Sendable, Hashable {
    /// Run the job again after a capped exponential backoff. For jobs whose work lives in the
    /// database and that pick it up again by themselves (the change listener, the deletion
    /// reaper, the rotation scheduler, the re-wrap job).
    case restart(RPCBackoff)
    /// End the process: the ServiceGroup shuts down gracefully (the other jobs flush, the audit
    /// log closes) and kmsd exits non-zero, so that its supervisor restarts it. For jobs without
    /// which kmsd must not go on as if nothing happened (the listeners, the flushers).
    case endProcess

    /// The backoff kmsd's restartable jobs use: 1 s doubling to 1 min.
    public static let restartWithBackoff = JobFailurePolicy.restart(RPCBackoff(base: .seconds(1), cap: .seconds(60)))
}

/// A job that failed under the `.endProcess` policy: thrown out of the ServiceGroup, it makes
/// kmsd exit non-zero.
public struct BackgroundJobFailed: Error, CustomStringConvertible {
    /// The failed job's name.
    public let job: String
    /// What the job threw, or `JobEndedEarly` when it returned on its own.
    public let error: any Error
    /// The job and its error, for the log of kmsd's exit.
    public var description: String { "background job '\(self.job)' failed: \(String(reflecting: self.error))" }
}

/// A job that returned while no shutdown was asked for.
struct JobEndedEarly: Error, CustomStringConvertible {
    var description: String { "the job ended while kmsd was not shutting down" }
}

/// When a failed job runs again, as a value: consecutive failures double the wait (RPCBackoff);
/// a run that lasted `healthyRun` had recovered, and its failure counts as the first again.
struct JobRestartSchedule: Sendable {
    let backoff: RPCBackoff
    let healthyRun: Duration
    private(set) var failures = 0

    init(backoff: RPCBackoff, healthyRun: Duration = .seconds(60)) {
        self.backoff = backoff
        self.healthyRun = healthyRun
    }

    /// A run that lasted `ran` failed: the number of this failure in a row, and the ceiling of
    /// the wait before the next run (the wait itself is drawn from its upper half).
    mutating func failed(afterRunning ran: Duration) -> (failures: Int, ceiling: Duration) {
        self.failures = ran >= self.healthyRun ? 1 : self.failures + 1
        return (self.failures, self.backoff.ceiling(afterFailures: self.failures))
    }

    /// The wait before the next run after the failure `failed` counted.
    func delay() -> Duration {
        self.backoff.delay(afterFailures: self.failures)
    }
}

/// One of kmsd's background jobs as a service of the process's one ServiceGroup: a failure is
/// logged, then restarted or ends the process by `policy`, never dropped. A graceful shutdown
/// reaches the job as the service's own (ServiceGroup shuts its services down in reverse order).
public struct BackgroundJob: Service, CustomStringConvertible {
    /// The job's name in logs and metrics.
    public let name: String
    /// What happens when the job fails.
    public let policy: JobFailurePolicy
    let clock: ServiceClock
    let logger: Logger
    let metrics: ServiceMetrics
    let body: @Sendable () async throws -> Void
    /// Told when the job starts and ends, so that a shutdown that overruns names it.
    private(set) var deadline: ShutdownDeadline?

    /// A job that runs `body`; `body` should return only once a shutdown is asked for.
    public init(
        _ name: String, policy: JobFailurePolicy, clock: ServiceClock = .system, logger: Logger,
        metrics: ServiceMetrics = ServiceMetrics(),
        _ body: @escaping @Sendable () async throws -> Void
    ) {
        self.metrics = metrics
        self.name = name
        self.policy = policy
        self.clock = clock
        self.logger = logger
        self.body = body
    }

    /// A service's `run` as a job.
    public init(
        _ name: String, policy: JobFailurePolicy, clock: ServiceClock = .system, logger: Logger,
        metrics: ServiceMetrics = ServiceMetrics(),
        running service: some Service
    ) {
        self.init(name, policy: policy, clock: clock, logger: logger, metrics: metrics) { try await service.run() }
    }

    /// This job, reporting its start and end to `deadline`.
    public func watched(by deadline: ShutdownDeadline?) -> BackgroundJob {
        var job = self
        job.deadline = deadline
        return job
    }

    /// The job's name, as ServiceGroup's logs show the service.
    public var description: String { self.name }

    /// How the ServiceGroup runs it: the job returns only when shut down, and throws only when
    /// the process must end; either way the group then shuts down gracefully.
    public var configuration: ServiceGroupConfiguration.ServiceConfiguration {
        .init(
            service: self, successTerminationBehavior: .gracefullyShutdownGroup,
            failureTerminationBehavior: .gracefullyShutdownGroup)
    }

    private static var stopping: Bool { Task.isShuttingDownGracefully || Task.isCancelled }

    /// Runs the job until a graceful shutdown or cancellation; throws `BackgroundJobFailed` when it fails under
    /// `.endProcess`, and restarts it after a backoff under `.restart`.
    public func run() async throws {
        self.deadline?.started(self.name)
        defer { self.deadline?.finished(self.name) }
        var schedule: JobRestartSchedule?
        if case .restart(let backoff) = self.policy { schedule = JobRestartSchedule(backoff: backoff) }
        while true {
            let started = self.clock.now
            let failure: any Error
            do {
                try await self.body()
                if Self.stopping { return }
                failure = JobEndedEarly()
            } catch {
                if Self.stopping { return }
                failure = error
            }
            self.metrics.backgroundJobFailed(self.name)
            guard var restarts = schedule else {
                self.logger.critical(
                    "background job failed; kmsd stops so that its supervisor restarts it",
                    metadata: [
                        "job": "\(self.name)", "error": "\(String(reflecting: failure))",
                    ])
                throw BackgroundJobFailed(job: self.name, error: failure)
            }
            let (failures, _) = restarts.failed(afterRunning: self.clock.now - started)
            schedule = restarts
            let delay = restarts.delay()
            self.logger.error(
                "background job failed; it restarts after a pause",
                metadata: [
                    "job": "\(self.name)", "error": "\(String(reflecting: failure))",
                    "failures": "\(failures)", "restart_in": "\(delay)",
                ])
            do {
                try await cancelWhenGracefulShutdown { try await self.clock.sleep(for: delay) }
            } catch {
                return
            }
            if Self.stopping { return }
        }
    }

    /// Serves until a graceful shutdown, which `close`s; a listener that closed by itself ends
    /// (and its job fails as ended early).
    static func serve(
        until closed: @escaping @Sendable () async throws -> Void, close: @escaping @Sendable () async -> Void
    ) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await closed() }
            group.addTask {
                try await gracefulShutdown()
                await close()
            }
            try await group.next()
            group.cancelAll()
        }
    }
}
