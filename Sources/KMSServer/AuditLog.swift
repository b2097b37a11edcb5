import Foundation
import KMSAuditChain
import KMSDomain
import KMSRPC
import KMSStore
import Logging
import NIOPosix
import PostgresNIO
import Synchronization

/// The audit log's writer: a request's record is durable in PostgreSQL before its answer
/// leaves. Records of concurrent requests share one transaction (group commit): while one
/// batch commits, the next gathers, so under load a commit carries many records and costs
/// each request a share of one commit. The chain's head is checkpointed by kms-cryptod
/// (AuditLog+Checkpoints): a batch brings a checkpoint of its last record along when the last
/// one is `checkpointInterval` old, and an idle or stopping writer checkpoints what is left.
///
/// When the log cannot be written (PostgreSQL down, its disk full, a stalled connection), the
/// log is in an outage (AuditLog+Outage): requests waiting for their records fail within
/// `timeout`, new requests are refused before they do anything, and no record of an operation
/// that did something is dropped: it stays queued, and the writer tries again with backoff
/// until the log takes it. A change's record is committed with the change itself
/// (`PendingAudit`), so its caller is answered whatever the log does after.
public final class AuditLog: Sendable {
    /// One request's record, waiting for its commit. The request is answered exactly once: by
    /// the commit, by its failure, or by the watchdog when the wait outlasts the timeout.
    final class Waiter: Sendable {
        /// Who is told: a request suspended in `append`, or one that queued its record ahead of
        /// its result and waits on the ticket when it has the result (`appendAhead`). Unsafe
        /// continuations (no checking box per request): the Mutex's take() answers exactly once.
        enum Answer: Sendable {
            case continuation(UnsafeContinuation<Void, any Error>)
            case ticket(AuditTicket)
        }

        struct State {
            var entry: AuditEntry
            var answer: Answer?
        }

        let enqueued: ContinuousClock.Instant
        /// When the request's own time is over (RequestDeadline): it is answered then even if the
        /// log is healthy, which is no outage.
        let requestDeadline: ContinuousClock.Instant?
        /// Set when the record was committed with its change: its caller is told of success
        /// whatever happens here, and the writer removes it from the outbox as it chains it.
        let pending: PendingAudit?
        private let state: Mutex<State>

        init(
            _ entry: AuditEntry, pending: PendingAudit?, _ answer: Answer?,
            enqueued: ContinuousClock.Instant = .now,
            requestDeadline: ContinuousClock.Instant? = RequestDeadline.current
        ) {
            self.enqueued = enqueued
            self.requestDeadline = requestDeadline
            self.pending = pending
            self.state = Mutex(State(entry: entry, answer: answer))
        }

        var entry: AuditEntry { self.state.withLock { $0.entry } }

        /// Whether the request is still waiting for its answer.
        var waiting: Bool { self.state.withLock { $0.answer != nil } }

        /// A record of an operation that did something (a result, a change) is never dropped.
        var mustBeKept: Bool { self.pending != nil || self.state.withLock { $0.entry.errorCode == nil } }

        /// Whether this is the record `ticket` answers for, its request not answered yet.
        func answers(_ ticket: AuditTicket) -> Bool {
            self.state.withLock { state in
                if case .ticket(let held) = state.answer { held === ticket } else { false }
            }
        }

        /// Records that the request failed after all (its record was queued ahead of its result).
        func amend(errorCode: String) {
            self.state.withLock { state in
                if state.entry.errorCode == nil { state.entry.errorCode = errorCode }
            }
        }

        /// Answers the request. A result withheld for lack of its record is recorded as what its
        /// caller was told (`code`), unless the record was committed with its change (the change
        /// happened and its caller is told so). True when this call answered it.
        @discardableResult
        func resume(failing code: String? = nil, error: (any Error)? = nil) -> Bool {
            let answer = self.state.withLock { state -> Answer? in
                guard let answer = state.answer.take() else { return nil }
                if let code, self.pending == nil, state.entry.errorCode == nil { state.entry.errorCode = code }
                return answer
            }
            guard let answer else { return false }
            let failure = self.pending == nil ? error : nil
            switch answer {
            case .continuation(let continuation):
                if let failure { continuation.resume(throwing: failure) } else { continuation.resume() }
            case .ticket(let ticket):
                ticket.answer(failure)
            }
            return true
        }
    }

    struct State {
        var queue: [Waiter] = []
        /// Records queued since the start, and of those chained (or found chained by another
        /// writer): `settle` waits for the second to reach the first.
        var queued = 0
        var chained = 0
        var flushing = false
        /// The batch being written, for the watchdog.
        var writing: [Waiter] = []
        /// When the batch being written was sent (nil: none), and the connection it went on, so
        /// the watchdog can close a connection that stopped answering.
        var writingSince: ContinuousClock.Instant?
        var writerConnection: PostgresConnection?
        /// When the writer asked the pool for a connection it does not have yet, and the writer's
        /// task, cancelled by the watchdog when no connection comes in time.
        var leasingSince: ContinuousClock.Instant?
        var writerTask: Task<Void, Never>?
        /// Bumped when the watchdog gives up on a writer stuck waiting for a connection (a
        /// pool lease does not always end when cancelled): a writer of an older generation
        /// that gets one after all goes away without touching the log.
        var generation = 0
        var watching = false
        /// The outage the log is in (nil: healthy), and when the writer tries again.
        var outage: Outage?
        var retryAt: ContinuousClock.Instant?
        var backoff = AuditLog.firstBackoff
        /// The chain's head row as this kmsd last wrote or read it (only the flushing task uses it).
        var head: AuditStore.Head?
        /// The furthest head this kmsd committed, kept through errors: a head row found behind it
        /// was cut back behind the service's back.
        var committed: AuditStore.Head?
        /// A batch whose commit failed without saying whether it committed (its connection was
        /// closed under it, or broke, after the statement was sent): the head it would have made
        /// and its requests. The next write compares the head row with it before chaining them
        /// again, which would record them twice.
        var attempted: Attempt?
        /// The writer when it waits for records, its connection held: the next append resumes it
        /// (.records); the watchdog stops it (.stop) once nothing came for `linger`; a timer
        /// (.checkpoint) when its head is due a checkpoint of its own.
        var idleWriter: CheckedContinuation<Wake, Never>?
        var idleSince = ContinuousClock.now
        /// When the one checkpoint timer sleeps until, if one does.
        var checkpointTimer: ContinuousClock.Instant?
        /// When this kmsd last stored a checkpoint (nil: not yet, so the first batch brings one).
        var lastCheckpoint: ContinuousClock.Instant?
        /// Set when kms-cryptod did not answer for a checkpoint: none is tried before then.
        var checkpointRetry: ContinuousClock.Instant?
        /// Checkpoints failed since the last that was made: logged once per incident, not per try.
        var checkpointsFailing = 0
        /// kmsd is stopping: every batch brings a checkpoint, and the last records get one.
        var closing = false
    }

    struct Attempt {
        var head: AuditStore.Head
        var waiters: Set<ObjectIdentifier>
        var checkpointed: Bool
    }

    enum Wake {
        case records, stop, checkpoint
    }

    /// A writer's next step: a batch to write, or its head to checkpoint.
    enum Work {
        case batch([Waiter])
        case checkpoint
    }

    struct StaleConnection: Error, CustomStringConvertible {
        var description: String { "the audit writer's connection had closed" }
    }

    /// A request's record was not committed within `timeout`; the request fails and its result is withheld.
    public struct TimedOut: Error, CustomStringConvertible {
        /// A fixed text: nothing of the request or the record.
        public var description: String { "the audit record was not committed in time" }
    }

    let state = Mutex(State())
    let store: AuditStore
    /// This writer's chain: its records link only to one another, so kmsd replicas never wait on
    /// one another's head.
    public let chain: String
    let logger: Logger
    let metrics: ServiceMetrics
    /// How long a request waits for its record before it fails (closed: its result is never
    /// returned). PostgreSQL down, a full disk or a stalled connection cost callers this much
    /// at most, not their own timeouts.
    let timeout: Duration
    /// kms-cryptod, which MACs the checkpoints (nil: none are made).
    let worker: (any CryptoBackend)?
    /// A batch brings a checkpoint when the last is this old (zero: every batch); a head left
    /// uncovered when records stop is checkpointed this long after the last checkpoint.
    let checkpointInterval: Duration
    var timing: Timing {
        Timing(timeout: self.timeout, checkpointInterval: self.checkpointInterval, checkpoints: self.worker != nil)
    }
    static let maximumBatch = 2000
    /// Records of refused requests kept while the log cannot be written; past it they are
    /// dropped (counted). Records of operations that did something are kept beyond it: the
    /// door closed during an outage bounds them by the requests that were in flight.
    static let maximumBacklog = 20_000
    /// How long the writer keeps its connection while no record comes. Under load a commit
    /// often empties the queue until its requests come back with their next calls; without
    /// this, each batch would pay for a new writer task and a pool lease.
    static let linger = Duration.seconds(1)
    /// The writer's retries during an outage: from this, doubling, up to `maximumBackoff`.
    static let firstBackoff = Duration.milliseconds(100)
    static let maximumBackoff = Duration.seconds(2)

    /// The writer runs on an event loop thread, as the requests and postgres-nio's connections do,
    /// rather than on Swift's global pool: no third set of threads to wake for every batch.
    private let executor = EventLoopTaskExecutor(MultiThreadedEventLoopGroup.singleton.next())

    /// An audit log writing `chain` through `store`. `worker` MACs checkpoints of the chain's head (nil: none);
    /// `timeout` bounds each request's wait for its record.
    public init(
        store: AuditStore, chain: String, timeout: Duration = .seconds(5), worker: (any CryptoBackend)? = nil,
        checkpointInterval: Duration = .milliseconds(100), logger: Logger, metrics: ServiceMetrics = ServiceMetrics()
    ) {
        self.metrics = metrics
        self.store = store
        self.chain = chain
        self.timeout = timeout
        self.worker = worker
        self.checkpointInterval = checkpointInterval
        self.logger = logger
    }

    /// Returns once the record is committed; throws when it could not be, or not in time. A
    /// record committed with its change (`pending`) is durable already: it returns once queued
    /// for the writer to chain, so a change waits for one commit, not two (CreateKey at 1 in
    /// flight p50 1.64-1.91 -> 1.09-1.27 ms). Only behind a writer a whole batch behind (that
    /// many records queued or being written) does it wait until chained (or the timeout), so a
    /// flood of changes never outgrows the queue. Readers of the log see the changes already
    /// answered after `settle`.
    public func append(_ entry: AuditEntry, pending: PendingAudit? = nil) async throws {
        if let pending {
            // nil: the writer is behind, wait. A record handed over twice is queued once (as
            // `adopt` does): one batch naming it twice could never be written.
            let held = self.state.withLock { state -> Bool? in
                guard state.queue.count + state.writing.count < Self.maximumBatch else { return nil }
                return state.queue.contains { $0.pending?.id == pending.id }
                    || state.writing.contains { $0.pending?.id == pending.id }
            }
            if let held {
                if !held { self.enqueue(Waiter(entry, pending: pending, nil, requestDeadline: nil)) }
                return
            }
        }
        // A refusal during an outage is answered at once: nothing was done, and its record is
        // written when the log can be (or dropped past the backlog).
        if entry.errorCode != nil, pending == nil, self.state.withLock({ $0.outage != nil }) {
            return self.enqueue(Waiter(entry, pending: nil, nil))
        }
        try await withUnsafeThrowingContinuation { (continuation: UnsafeContinuation<Void, any Error>) in
            self.enqueue(Waiter(entry, pending: pending, .continuation(continuation)))
        }
    }

    /// Queues the record of a result not known yet (errorCode nil) and returns at once, so that
    /// its commit overlaps kms-cryptod's work: at 1 in flight the worker's round trip was added
    /// to the commit's. The request waits on the ticket once it has its result, and amends the
    /// record (`amend`) if it failed instead. The record is kept as `append` keeps a result's.
    public func appendAhead(_ entry: AuditEntry) -> AuditTicket? {
        let ticket = AuditTicket()
        self.enqueue(Waiter(entry, pending: nil, .ticket(ticket)))
        return ticket
    }

    /// Amends the record `ticket` answers for while it is still queued: the writer reads a
    /// record as it takes it from the queue, under the same lock. Once taken it is being written
    /// as a success, and the caller records the failure in a record of its own.
    public func amend(_ ticket: AuditTicket, errorCode: String) -> Bool {
        self.state.withLock { state in
            // A scan on a failure's path only (a success never amends), from the tail: the record
            // was queued as the worker was called, so few have been queued after it.
            guard let waiter = state.queue.last(where: { $0.answers(ticket) }) else { return false }
            waiter.amend(errorCode: errorCode)
            return true
        }
    }

    /// Returns once every record queued before the call is chained, or after the log's timeout
    /// (an outage): what a reader of the log waits for, so that it sees the changes this kmsd
    /// answered before it, whose records are chained after their answers.
    public func settle() async {
        let target = self.state.withLock { $0.queued }
        let deadline = ContinuousClock.now + self.timeout
        // Polled: a reader of the log is an administrator's request, and the writer is
        // usually a commit away.
        while self.state.withLock({ $0.chained < target }), ContinuousClock.now < deadline, !Task.isCancelled {
            try? await Task.sleep(for: .milliseconds(1))
        }
    }

    /// Queues records committed with their changes by a kmsd that stopped before chaining them
    /// (`AuditOutbox.pending`, `.orphaned`); nobody waits for them. Records this log holds already
    /// are skipped: one batch naming a pending record twice could never be written (the append
    /// finds fewer rows than it names). One caller at a time (kmsd's start, then its sweeper).
    public func adopt(_ records: [PendingAudit]) {
        let held = self.state.withLock { state in
            Set((state.writing + state.queue).compactMap { $0.pending?.id })
        }
        for record in records where !held.contains(record.id) {
            self.enqueue(Waiter(record.entry, pending: record, nil, requestDeadline: nil))
        }
    }

    private func enqueue(_ waiter: Waiter) {
        let (accepted, start, watch, writer) = self.state.withLock {
            state -> (Bool, Bool, Bool, CheckedContinuation<Wake, Never>?) in
            // While PostgreSQL is away, records of refusals past the backlog are dropped rather
            // than queued without bound; those of operations that did something never are.
            if state.queue.count >= Self.maximumBacklog, !waiter.mustBeKept {
                state.outage?.dropped += 1
                return (false, false, false, nil)
            }
            state.queue.append(waiter)
            state.queued += 1
            let watch = !state.watching
            state.watching = true
            if let writer = state.idleWriter {
                state.idleWriter = nil
                return (true, false, watch, writer)
            }
            // During an outage the watchdog starts the next try, after its backoff.
            guard !state.flushing, state.retryAt == nil else { return (true, false, watch, nil) }
            state.flushing = true
            return (true, true, watch, nil)
        }
        guard accepted else {
            self.metrics.auditRecordsDropped.increment()
            waiter.resume(failing: KMSError.Code.internalFailure.rawValue, error: TimedOut())
            return
        }
        writer?.resume(returning: .records)
        if start { self.startWriter() }
        if watch { Self.detachedFromRequest { Task { await self.watch() } } }
    }

    /// Starts a writer task (`state.flushing` is set by the caller).
    func startWriter(checkpointFirst: Bool = false) {
        // The writer serves every request, not the one whose record happened to start it: it
        // must not inherit that request's deadline.
        let task = Self.detachedFromRequest {
            Task(executorPreference: self.executor) { await self.drain(checkpointFirst: checkpointFirst) }
        }
        self.state.withLock { state in
            if state.flushing, state.writerTask == nil { state.writerTask = task }
        }
    }

    /// Chains the entries from the known head and writes them in one statement, with a
    /// checkpoint of the last one when one is due; when another writer moved the head meanwhile
    /// (two kmsd given the same chain), reads it and chains them again. Returns the batch as
    /// written: without records another writer chained from the outbox first.
    private func write(_ batch: [Waiter], on connection: PostgresConnection) async throws -> [Waiter] {
        var batch = batch
        var cached = self.state.withLock { $0.head }
        var earlier: [Waiter] = []
        while true {
            let expected: AuditStore.Head
            if let cached {
                expected = cached
            } else {
                expected = try await self.bounded(connection) {
                    try await self.store.head(of: self.chain, on: connection)
                }
            }
            if let attempt = self.state.withLock({ $0.attempted.take() }) {
                // The head row is what the failed attempt would have made it: the attempt
                // committed after all (hashes cover every record), so its records are chained.
                if expected.sequence == attempt.head.sequence, expected.hash == attempt.head.hash {
                    self.committed(expected, checkpointed: attempt.checkpointed)
                    earlier = batch.filter { attempt.waiters.contains(ObjectIdentifier($0)) }
                    batch.removeAll { attempt.waiters.contains(ObjectIdentifier($0)) }
                    self.logger.notice(
                        "an audit commit reported as failed had committed; its records are not written again",
                        metadata: [
                            "chain": "\(self.chain)", "records": "\(earlier.count)", "sequence": "\(expected.sequence)",
                        ])
                    if batch.isEmpty { return earlier }
                    cached = expected
                    continue
                }
            }
            let base = self.continuation(of: expected)
            let (records, last) = AuditChain.link(
                batch.lazy.map(\.entry), chain: self.chain, after: (base.sequence, base.hash))
            var head = base
            (head.sequence, head.hash) = last
            var checkpoint: AuditStore.Checkpoint?
            if self.checkpointDue(), let made = await self.makeCheckpoint(of: head) {
                checkpoint = made
                head = head.checkpointed(made)
            }
            let pending = batch.compactMap { $0.pending?.id }
            let written: Bool
            do {
                let sent = records
                let checkpointSent = checkpoint
                let headSent = head
                let pendingSent = pending
                written = try await self.bounded(connection) {
                    try await self.store.append(
                        sent, checkpoint: checkpointSent, head: headSent, expecting: expected, pending: pendingSent,
                        on: connection)
                }
            } catch {
                let attempt = Attempt(
                    head: head, waiters: Set(batch.map(ObjectIdentifier.init)), checkpointed: checkpoint != nil)
                self.state.withLock { state in
                    state.head = nil
                    state.attempted = attempt
                }
                throw error
            }
            if written {
                self.committed(head, checkpointed: checkpoint != nil)
                return earlier + batch
            }
            cached = nil
            guard !pending.isEmpty else { continue }
            // Another writer may have chained some of these records from the outbox.
            let asked = pending
            let still = try await self.bounded(connection) {
                try await AuditOutbox.stillPending(asked, on: connection, logger: self.logger)
            }
            let chainedElsewhere = batch.filter { $0.pending.map { !still.contains($0.id) } ?? false }
            guard !chainedElsewhere.isEmpty else { continue }
            for waiter in chainedElsewhere { waiter.resume() }
            batch.removeAll { waiter in chainedElsewhere.contains { $0 === waiter } }
            if batch.isEmpty { return earlier }
        }
    }

    /// A statement on the writer's connection, given up after the log's timeout, the connection
    /// closed: postgres-nio never answers a query on a connection that closed under it (a reset
    /// PostgreSQL), and a writer stuck there would keep the log in an outage for good.
    func bounded<T: Sendable>(_ connection: PostgresConnection, _ body: @escaping @Sendable () async throws -> T)
        async throws -> T
    {
        do {
            return try await withDeadline(self.timeout, executor: EventLoopTaskExecutor(connection.eventLoop), body)
        } catch let error as DeadlineExceeded {
            connection.close().whenComplete { _ in }
            throw error
        }
    }

    /// The next batch to write (now `writing`), or nil when nothing waits. `stop`: then the
    /// writer stops, and the next append starts another.
    private func takeBatch(stopWhenEmpty stop: Bool) -> [Waiter]? {
        self.state.withLock { state -> [Waiter]? in
            guard !state.queue.isEmpty else {
                if stop {
                    state.flushing = false
                    state.writerTask = nil
                }
                state.writing = []
                return nil
            }
            let count = min(state.queue.count, Self.maximumBatch)
            let batch = Array(state.queue.prefix(count))
            state.queue.removeFirst(count)
            state.writing = batch
            return batch
        }
    }

    /// Waits for the next record, or until the head is due a checkpoint of its own; `.stop` when
    /// the watchdog stopped the writer instead.
    private func waitForRecords() async -> Wake {
        await withCheckedContinuation { (continuation: CheckedContinuation<Wake, Never>) in
            let (ready, watch) = self.state.withLock { state -> (Bool, Bool) in
                guard state.queue.isEmpty else { return (true, false) }
                state.idleWriter = continuation
                state.idleSince = .now
                // The watchdog may just have stopped, seeing nothing to do: one must run to end the wait.
                let watch = !state.watching
                state.watching = true
                return (false, watch)
            }
            if ready { continuation.resume(returning: .records) }
            if watch { Self.detachedFromRequest { Task { await self.watch() } } }
            if !ready { self.armCheckpointTimer() }
        }
    }

    /// Makes sure a timer will wake the idle writer when its head is due a checkpoint: one timer
    /// at a time, however often the writer goes idle under load.
    private func armCheckpointTimer() {
        let due = self.state.withLock { state -> ContinuousClock.Instant? in
            guard state.idleWriter != nil, let due = self.idleCheckpointDue(state) else { return nil }
            if let armed = state.checkpointTimer, armed <= due { return nil }
            state.checkpointTimer = due
            return due
        }
        guard let due else { return }
        Self.detachedFromRequest {
            Task {
                try? await Task.sleep(until: due, clock: .continuous)
                let writer = self.state.withLock { state -> CheckedContinuation<Wake, Never>? in
                    if state.checkpointTimer == due { state.checkpointTimer = nil }
                    guard state.idleWriter != nil, let dueNow = self.idleCheckpointDue(state), dueNow <= .now else {
                        return nil
                    }
                    defer { state.idleWriter = nil }
                    return state.idleWriter
                }
                if let writer { writer.resume(returning: .checkpoint) } else { self.armCheckpointTimer() }
            }
        }
    }

    /// Resumes the idle writer, if one waits, to checkpoint its head.
    func wakeToCheckpoint() {
        let writer = self.state.withLock { state -> CheckedContinuation<Wake, Never>? in
            defer { state.idleWriter = nil }
            return state.idleWriter
        }
        writer?.resume(returning: .checkpoint)
    }

    /// The next batch, or a checkpoint due while no records come, waiting while the connection
    /// is held; nil once the watchdog stopped the idle writer.
    private func nextWork() async -> Work? {
        while true {
            if let batch = self.takeBatch(stopWhenEmpty: false) { return .batch(batch) }
            switch await self.waitForRecords() {
            case .records: continue
            case .stop: return nil
            case .checkpoint: return .checkpoint
            }
        }
    }

    /// Writes one batch and answers its requests.
    private func commit(_ batch: [Waiter], on connection: PostgresConnection) async throws {
        let started = ContinuousClock.now
        self.state.withLock { $0.writingSince = started }
        // Records of requests already failed by the watchdog are written all the same: the
        // operation happened, only its answer was withheld.
        let written = try await self.write(batch, on: connection)
        // The queue is first in, first out (a failed batch goes back to its head), so the
        // records chained so far are the first `chained` queued.
        self.state.withLock { state in
            state.writingSince = nil
            state.chained += batch.count
        }
        self.metrics.auditCommit.recordNanoseconds(TimeAmount(ContinuousClock.now - started).nanoseconds)
        self.metrics.auditBatchSize.record(written.count)
        self.recovered(late: batch.count { !$0.waiting })
        for waiter in written { waiter.resume() }
    }

    /// Writes batches while records come, on one connection held meanwhile and on that
    /// connection's own event loop, so a batch's round trip crosses no threads. When a batch
    /// fails, its requests fail, its records go back to the head of the queue, the connection
    /// goes back to the pool (which drops it if broken) and the writer stops: the log is in an
    /// outage, and the watchdog starts the next try after a backoff. `checkpointFirst`: started
    /// to checkpoint the head (kmsd stopping) rather than for a batch.
    func drain(checkpointFirst: Bool = false, staleOnce: Bool = false) async {
        var pending: Work
        if checkpointFirst {
            pending = .checkpoint
        } else {
            guard let batch = self.takeBatch(stopWhenEmpty: true) else { return }
            pending = .batch(batch)
        }
        var batch: [Waiter] = []
        if case .batch(let first) = pending { batch = first }
        let generation = self.state.withLock { state in
            state.leasingSince = .now
            return state.generation
        }
        let current = { self.state.withLock { $0.generation == generation } }
        do {
            try await self.store.withConnection { connection in
                let given = self.state.withLock { state in
                    guard state.generation == generation else { return false }
                    state.leasingSince = nil
                    state.writerConnection = connection
                    return true
                }
                // Given up on meanwhile: its batch is queued again and another writer runs.
                guard given else { return }
                try await withTaskExecutorPreference(EventLoopTaskExecutor(connection.eventLoop)) {
                    var work: Work? = pending
                    while let current = work {
                        switch current {
                        case .batch(let next):
                            batch = next
                            // postgres-nio never answers a query sent on a connection that has
                            // closed (PostgreSQL restarted while the writer held it): hand the
                            // batch to a fresh lease instead.
                            if connection.isClosed { throw StaleConnection() }
                            try await self.commit(batch, on: connection)
                            batch = []
                        case .checkpoint:
                            if connection.isClosed { throw StaleConnection() }
                            await self.checkpointHead(on: connection)
                        }
                        work = await self.nextWork()
                    }
                }
            }
            self.state.withLock { state in
                guard state.generation == generation else { return }
                state.writerConnection = nil
                state.leasingSince = nil
            }
        } catch _ where !current() {
            // Given up on by the watchdog while it waited for a connection: nothing to undo.
        } catch is StaleConnection where !staleOnce {
            self.state.withLock { state in
                state.writerConnection = nil
                state.writing = []
                state.queue.insert(contentsOf: batch, at: 0)
            }
            await self.drain(checkpointFirst: batch.isEmpty, staleOnce: true)
        } catch {
            if batch.isEmpty, checkpointFirst {
                // Started to checkpoint the head (kmsd stopping, or a checkpoint due when the
                // held connection had closed), and no connection came.
                self.metrics.auditCheckpointFailures.increment()
                self.logger.error(
                    "the audit chain's head could not be checkpointed: no database connection",
                    metadata: [
                        "chain": "\(self.chain)", "error": "\(String(reflecting: error))",
                    ])
            }
            self.failed(batch, error: error)
        }
    }
}
