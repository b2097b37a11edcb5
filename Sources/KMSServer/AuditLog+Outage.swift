import Foundation
import KMSDomain
import PostgresNIO

/// The log when it cannot be written: one outage from the first failure (a commit that failed,
/// or records not committed in time) to the next commit. One log line when it starts and one
/// when it ends, whatever the number of requests in between; the metrics count what happened
/// (failed commits, requests answered with an error for lack of their record, records dropped).
extension AuditLog {
    struct Outage {
        var since: ContinuousClock.Instant
        var cause: String
        /// Commits that failed during the outage.
        var failedWrites = 0
        /// Requests whose results were withheld for lack of their records.
        var withheld = 0
        /// Records of refused requests dropped past the backlog.
        var dropped = 0
    }

    /// Refuses a request before it does anything while the log cannot take records: it would
    /// only do work whose result must be withheld. Once nothing of the outage is left to write,
    /// requests go through again, and the first commit ends the outage.
    public func admit() throws(KMSError) {
        let refusing = self.state.withLock { $0.refusing }
        if refusing {
            throw KMSError.internalFailure(
                "the audit log cannot be written at the moment, so nothing was done; retry later")
        }
    }

    /// Whether the log is in an outage (for readiness and tests).
    public var isInOutage: Bool { self.state.withLock { $0.outage != nil } }

    /// A batch could not be written: its requests fail, its records go back to the head of the
    /// queue, and the writer stops until the watchdog starts it again after a backoff.
    func failed(_ batch: [Waiter], error: any Error) {
        let (began, watch) = self.state.withLock { state -> (Bool, Bool) in
            let began = state.failed(batch, cause: String(reflecting: error), now: .now)
            let watch = !state.watching
            state.watching = true
            return (began, watch)
        }
        self.metrics.auditFailures.increment()
        var withheld = 0
        for waiter in batch where waiter.resume(failing: KMSError.Code.internalFailure.rawValue, error: error) {
            if waiter.pending == nil { withheld += 1 }
        }
        self.noteWithheld(withheld)
        if began { self.logOutage(cause: String(reflecting: error)) }
        if watch { Self.detachedFromRequest { Task { await self.watch() } } }
    }

    /// A batch committed: ends the outage, if there was one, with one line that says what it cost.
    func recovered(late: Int) {
        let outage = self.state.withLock { $0.recovered() }
        guard let outage else { return }
        self.logger.warning(
            "the audit log is written again; the records kept during the outage are committed",
            metadata: [
                "chain": "\(self.chain)", "outage": "\(ContinuousClock.now - outage.since)",
                "failed_commits": "\(outage.failedWrites)",
                "withheld_results": "\(outage.withheld)", "dropped_refusal_records": "\(outage.dropped)",
            ])
    }

    private func noteWithheld(_ count: Int) {
        guard count > 0 else { return }
        self.metrics.auditWithheld.increment(by: count)
        self.state.withLock { $0.outage?.withheld += count }
    }

    private func logOutage(cause: String) {
        self.metrics.auditOutages.increment()
        self.logger.error(
            """
            the audit log cannot be written: requests waiting for their records fail, new requests are refused \
            until it can, and the records of what was done are kept and written then
            """,
            metadata: [
                "chain": "\(self.chain)", "cause": "\(cause)", "timeout": "\(self.timeout)",
            ])
    }

    /// A few times a second while anything waits: fails the requests whose records wait longer
    /// than the timeout; closes the writer's connection when a commit outlasts it, and cancels a
    /// writer that got no connection in that time (a pool waiting for a PostgreSQL that is down);
    /// starts the next try after an outage's backoff; stops an idle writer. One loop for the whole
    /// log rather than a timer per request; it stops when nothing waits.
    func watch() async {
        let tick = min(self.timeout / 4, .milliseconds(250))
        while true {
            try? await Task.sleep(for: tick)
            let found = self.state.withLock { $0.tick(now: .now, self.timing) }
            found.stopWriter?.resume(returning: .stop)
            if let cause = found.began { self.logOutage(cause: cause) }
            var withheld = 0
            if found.leaseOverdue {
                self.metrics.auditFailures.increment()
                self.logger.debug(
                    "the audit writer got no database connection in time; trying again with another",
                    metadata: ["chain": "\(self.chain)"])
            }
            for waiter in found.late + found.abandoned
            where waiter.resume(failing: KMSError.Code.internalFailure.rawValue, error: TimedOut()) {
                if waiter.pending == nil { withheld += 1 }
            }
            self.noteWithheld(withheld)
            if let connection = found.closeConnection {
                // A commit that outlasts the timeout is stuck (a stalled connection): closing it
                // fails the commit, and the records go back to the queue for the next try.
                self.logger.warning(
                    "closing the audit writer's connection: a commit did not finish in time",
                    metadata: ["chain": "\(self.chain)"])
                connection.close().whenComplete { _ in }
            }
            found.cancelWriter?.cancel()
            if found.startWriter { self.startWriter() }
            if found.idle { return }
        }
    }
}
