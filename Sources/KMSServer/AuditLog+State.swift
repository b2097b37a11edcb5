import Foundation
import PostgresNIO

/// The audit log's decisions, as functions of its state and the time they are taken at: what
/// the watchdog does on a tick, what a failed commit does to the queue and the backoff, when a
/// checkpoint is due, whether a request is let in. No I/O and no clock of their own (the shell,
/// AuditLog, passes `now`), so AuditLogStateTests drive them through an outage and back with
/// instants of their choosing instead of sleeping.
extension AuditLog {
    /// The settings the decisions depend on.
    struct Timing {
        var timeout: Duration
        var linger: Duration = AuditLog.linger
        var checkpointInterval: Duration
        /// Whether kms-cryptod makes checkpoints (else none is ever due).
        var checkpoints: Bool
    }

    /// What the watchdog found on one tick, acted on outside the lock.
    struct Tick {
        /// Requests waiting past the timeout, to answer with an error now.
        var late: [Waiter] = []
        /// The cause of an outage that began on this tick (logged once).
        var began: String?
        /// The writer's connection, to close: a commit on it outlasted the timeout.
        var closeConnection: PostgresConnection?
        var writeOverdue = false
        /// The writer's task, to cancel: it got no connection from the pool in time.
        var cancelWriter: Task<Void, Never>?
        var leaseOverdue = false
        /// The batch of the writer given up on, queued again: its requests are told it failed.
        var abandoned: [AuditLog.Waiter] = []
        /// The backoff after a failure is over and records wait: start a writer.
        var startWriter = false
        /// The idle writer, to stop: nothing came for `linger`.
        var stopWriter: CheckedContinuation<Wake, Never>?
        /// Nothing is left to watch: the watchdog stops.
        var idle = false
    }
}

extension AuditLog.State {
    /// Whether a batch written now should bring a checkpoint along.
    func checkpointDue(now: ContinuousClock.Instant, _ timing: AuditLog.Timing) -> Bool {
        guard timing.checkpoints else { return false }
        if let retry = self.checkpointRetry, now < retry { return false }
        guard !self.closing, let last = self.lastCheckpoint else { return true }
        return now - last >= timing.checkpointInterval
    }

    /// When the idle writer should checkpoint its head; nil when a checkpoint covers it, or when
    /// the last try failed (the next batch, or kmsd stopping, tries again).
    func idleCheckpointDue(now: ContinuousClock.Instant, _ timing: AuditLog.Timing) -> ContinuousClock.Instant? {
        guard timing.checkpoints, let head = self.head, head.uncovered > 0 else { return nil }
        if let retry = self.checkpointRetry {
            guard self.closing, now >= retry else { return nil }
        }
        guard !self.closing, let last = self.lastCheckpoint else { return now }
        return max(now, last + timing.checkpointInterval)
    }

    /// Requests are refused before they do anything while the log is in an outage and has
    /// records of it left to write; once they are written the first commit ends the outage.
    var refusing: Bool { self.outage != nil && !(self.queue.isEmpty && self.writing.isEmpty) }

    /// A batch could not be written: it goes back to the head of the queue, the writer stops,
    /// and the next try waits out a backoff that doubles up to `maximumBackoff`. True when this
    /// failure began an outage. The caller answers the batch's requests.
    mutating func failed(_ batch: [AuditLog.Waiter], cause: @autoclosure () -> String, now: ContinuousClock.Instant)
        -> Bool
    {
        self.writing = []
        self.writingSince = nil
        self.writerConnection = nil
        self.leasingSince = nil
        self.flushing = false
        self.writerTask = nil
        self.queue.insert(contentsOf: batch, at: 0)
        let began = self.outage == nil
        if began { self.outage = AuditLog.Outage(since: now, cause: cause()) }
        self.outage?.failedWrites += 1
        self.retryAt = now + self.backoff
        self.backoff = min(self.backoff * 2, AuditLog.maximumBackoff)
        return began
    }

    /// A batch committed: the backoff starts over, and the outage, if there was one, ends.
    mutating func recovered() -> AuditLog.Outage? {
        self.backoff = AuditLog.firstBackoff
        return self.outage.take()
    }

    /// The watchdog's tick at `now`. Late records stay queued and are still written (the
    /// operation happened, only its answer is withheld); a request already answered is not
    /// counted again. A commit or a lease that outlasts the timeout is given up on once.
    mutating func tick(now: ContinuousClock.Instant, _ timing: AuditLog.Timing) -> AuditLog.Tick {
        var found = AuditLog.Tick()
        let deadline = now - timing.timeout
        // Requests whose own time is over are answered too, wherever they are in the queue;
        // only records older than the log's timeout make an outage.
        var logLate = false
        found.late = (self.writing + self.queue).filter { waiter in
            let overdue = waiter.enqueued < deadline
            guard overdue || waiter.requestDeadline.map({ $0 <= now }) == true, waiter.waiting else { return false }
            logLate = logLate || overdue
            return true
        }
        if let since = self.writingSince, now - since > timing.timeout {
            self.writingSince = nil
            found.writeOverdue = true
            found.closeConnection = self.writerConnection
        }
        if let since = self.leasingSince, now - since > timing.timeout {
            // No connection in time (a pool waiting for a PostgreSQL that is down): the writer
            // is cancelled and given up on, as a failed commit, whether or not the cancellation
            // reaches it; the next try comes after the backoff.
            found.leaseOverdue = true
            found.cancelWriter = self.writerTask
            found.abandoned = self.writing
            self.generation += 1
            if self.failed(self.writing, cause: "no database connection within \(timing.timeout)", now: now) {
                found.began = self.outage?.cause
            }
        }
        if let retry = self.retryAt, now >= retry, !self.flushing {
            self.retryAt = nil
            if !self.queue.isEmpty {
                self.flushing = true
                found.startWriter = true
            }
        }
        // A writer waiting to checkpoint its head is left to do it.
        if let writer = self.idleWriter, self.queue.isEmpty, self.idleCheckpointDue(now: now, timing) == nil,
            now - self.idleSince >= timing.linger
        {
            self.idleWriter = nil
            self.flushing = false
            self.writerTask = nil
            found.stopWriter = writer
        }
        if logLate, self.outage == nil {
            self.outage = AuditLog.Outage(since: now, cause: "records not committed within \(timing.timeout)")
            found.began = self.outage?.cause
        }
        found.idle =
            self.queue.isEmpty && self.writing.isEmpty && self.idleWriter == nil && self.retryAt == nil
            && !found.startWriter
        if found.idle { self.watching = false }
        return found
    }
}
