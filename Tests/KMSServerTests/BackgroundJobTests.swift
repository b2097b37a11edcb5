import KMSProto
import KMSRPC
import KMSTestSupport
import Logging
import MetricsTestKit
import ServiceLifecycle
import Synchronization
import Testing

@testable import KMSServer

/// kmsd's background jobs run as services of one ServiceGroup: a job that fails is restarted
/// after its backoff or ends the group with an error (kmsd exits non-zero), and either way the
/// others still shut down gracefully. Driven by a manual clock: nothing sleeps.
@Suite struct BackgroundJobTests {
    struct Broken: Error {}

    static let logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

    static func clocks() -> (ManualClock, ServiceClock) {
        let manual = ManualClock()
        return (manual, ServiceClock(manual, wall: { manual.wallNow }))
    }

    @Test func aRestartableJobThatFailsRunsAgainAfterItsBackoffAndNotBefore() async throws {
        let (manual, clock) = Self.clocks()
        let runs = Mutex(0)
        let (started, starts) = AsyncStream.makeStream(of: Int.self)
        let metrics = TestMetrics()
        let job = BackgroundJob(
            "flaky", policy: .restart(RPCBackoff(base: .seconds(1), cap: .seconds(8))), clock: clock,
            logger: Self.logger,
            metrics: ServiceMetrics(factory: metrics)
        ) {
            let run = runs.withLock { runs in
                runs += 1
                return runs
            }
            starts.yield(run)
            if run < 3 { throw Broken() }
            try await gracefulShutdown()
        }
        let group = ServiceGroup(configuration: .init(services: [job.configuration], logger: Self.logger))
        let running = Task { try await group.run() }
        var runStarts = started.makeAsyncIterator()
        #expect(await runStarts.next() == 1)
        await manual.waitForSleepers(1)
        // First failure: the wait is drawn from [0.5 s, 1 s].
        let first = try #require(manual.requestedDeadlines.last) - manual.origin
        #expect(first >= .milliseconds(500) && first <= .seconds(1))
        manual.advance(by: .seconds(1))
        #expect(await runStarts.next() == 2)
        await manual.waitForSleepers(1)
        // Second failure in a row: [1 s, 2 s] from the restart, so 999 ms later it still waits.
        let second = try #require(manual.requestedDeadlines.last) - (manual.origin + .seconds(1))
        #expect(second >= .seconds(1) && second <= .seconds(2))
        manual.advance(by: .milliseconds(999))
        #expect(manual.sleeperCount == 1)
        #expect(runs.withLock { $0 } == 2)
        manual.advance(by: .seconds(1))
        #expect(await runStarts.next() == 3)
        await group.triggerGracefulShutdown()
        try await running.value
        #expect(runs.withLock { $0 } == 3)
        // Each failure counted once, under the job's name; the graceful end is not a failure.
        #expect(try metrics.expectCounter("kms_background_job_failures_total", [("job", "flaky")]).totalValue == 2)
    }

    @Test func aJobThatMustNotFailEndsTheGroupWithItsErrorAfterTheOthersShutDownGracefully() async throws {
        let (_, clock) = Self.clocks()
        let flushed = Mutex(false)
        let flusher = BackgroundJob("flusher", policy: .endProcess, clock: clock, logger: Self.logger) {
            try? await gracefulShutdown()
            flushed.withLock { $0 = true }
        }
        let broken = BackgroundJob("broken", policy: .endProcess, clock: clock, logger: Self.logger) {
            throw Broken()
        }
        let group = ServiceGroup(
            configuration: .init(services: [flusher.configuration, broken.configuration], logger: Self.logger))
        do {
            try await group.run()
            Issue.record("the group ended without an error: kmsd would exit 0")
        } catch let error as BackgroundJobFailed {
            #expect(error.job == "broken")
            #expect(error.error is Broken)
        }
        #expect(flushed.withLock { $0 })
    }

    @Test func aJobThatEndsWhileNoShutdownWasAskedForHasFailed() async throws {
        let (_, clock) = Self.clocks()
        let listener = BackgroundJob("listener", policy: .endProcess, clock: clock, logger: Self.logger) {}
        let group = ServiceGroup(configuration: .init(services: [listener.configuration], logger: Self.logger))
        do {
            try await group.run()
            Issue.record("a listener that closed by itself went unnoticed")
        } catch let error as BackgroundJobFailed {
            #expect(error.job == "listener")
            #expect(error.error is JobEndedEarly)
        }
    }

    @Test func aRestartableJobWaitingForItsRestartStopsAtShutdown() async throws {
        let (manual, clock) = Self.clocks()
        let job = BackgroundJob("always failing", policy: .restartWithBackoff, clock: clock, logger: Self.logger) {
            throw Broken()
        }
        let group = ServiceGroup(configuration: .init(services: [job.configuration], logger: Self.logger))
        let running = Task { try await group.run() }
        await manual.waitForSleepers(1)
        await group.triggerGracefulShutdown()
        try await running.value
        #expect(manual.sleeperCount == 0)
    }

    @Test func restartWaitsDoubleUpToTheCapAndALongHealthyRunStartsOver() {
        var schedule = JobRestartSchedule(
            backoff: RPCBackoff(base: .seconds(1), cap: .seconds(60)), healthyRun: .seconds(60))
        let ceilings = (0..<8).map { _ in schedule.failed(afterRunning: .seconds(1)).ceiling }
        #expect(
            ceilings == [
                .seconds(1), .seconds(2), .seconds(4), .seconds(8), .seconds(16), .seconds(32), .seconds(60),
                .seconds(60),
            ])
        let afterRecovery = schedule.failed(afterRunning: .seconds(600))
        #expect(afterRecovery.failures == 1 && afterRecovery.ceiling == .seconds(1))
        #expect(schedule.delay() >= .milliseconds(500) && schedule.delay() <= .seconds(1))
    }
}

/// SIGTERM, end to end: kmsd's group shuts its jobs down in order, so the counts and last uses
/// it never flushed (an hour's interval) are written before it exits, its requests' records
/// are chained, and it exits 0.
@Suite struct GracefulShutdownTests {
    @Test func sigtermFlushesUsageAndLastUseAndExitsZero() async throws {
        let stack = try await KMSStack.start()
        let kms = stack.client
        let key = try await kms.createKey()
        let other = try await stack.secondKMSD(arguments: [
            "--usage-flush-seconds", "3600", "--last-use-flush-seconds", "3600",
        ])
        let kmsB = try other.client(credentials: stack.adminCredentials)
        for _ in 0..<3 { _ = try await kmsB.encrypt(key.keyID, [7]) }
        await kmsB.close()
        let process = try #require(other.process)
        await other.stop()
        #expect(process.terminationReason == .exit && process.terminationStatus == 0)

        var usageRequest = AdminGetUsageRequest()
        usageRequest.keyArn = key.arn
        let usage = try await kms.call(AdminMethod.getUsage, usageRequest)
        #expect(usage.requests.first { $0.operation == "Encrypt" }?.requests == 3)
        var lastUse = KMSGetKeyLastUsageRequest()
        lastUse.keyID = key.keyID
        #expect(try await kms.call(KMSMethod.getKeyLastUsage, lastUse).keyLastUsage.operation == .encrypt)
        var audit = AdminListAuditRecordsRequest()
        audit.keyArn = key.arn
        audit.operation = "Encrypt"
        #expect(try await kms.call(AdminMethod.listAuditRecords, audit).records.count == 3)
        await stack.stop()
    }
}
