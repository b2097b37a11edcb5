import Foundation
import KMSCrypto
import KMSDomain
import KMSStore
import KMSRPC
import Logging
import NIOPosix
import PostgresNIO
import Synchronization

/// What one request did, filled in as it goes (the gate notes the key, alias, context and
/// grant), then written as its audit record.
public final class AuditTrail: Sendable {
    struct Details {
        var keyARNs: [String] = []
        var alias: String?
        var encryptionContext: [String: String]?
        var grantID: String?
    }

    let details = Mutex(Details())

    public init() {}

    func note(key: CachedKey, encryptionContext: [String: String]?) {
        self.details.withLock { details in
            if !details.keyARNs.contains(key.record.arn) { details.keyARNs.append(key.record.arn) }
            if let alias = key.requestAlias, details.alias == nil { details.alias = alias }
            // The edge refuses larger contexts before anything is recorded; this keeps one
            // that slipped past (a new operation) out of the log rather than storing it.
            if let encryptionContext, !encryptionContext.isEmpty, details.encryptionContext == nil,
               (try? Edge.encryptionContext(encryptionContext)) != nil {
                details.encryptionContext = encryptionContext
            }
        }
    }

    /// Takes back a key noted for a key that turned out not to exist (a provisional AWS managed key).
    func forget(keyARN: String) {
        self.details.withLock { $0.keyARNs.removeAll { $0 == keyARN } }
    }

    /// Names a key the request made (CreateKey), so the key's history starts with its creation.
    func note(keyARN: String) {
        self.details.withLock { if !$0.keyARNs.contains(keyARN) { $0.keyARNs.append(keyARN) } }
    }

    func note(grantID: String) {
        self.details.withLock { $0.grantID = grantID }
    }
}

/// The audit log's writer: a request's record is durable in PostgreSQL before its answer
/// leaves. Records of concurrent requests share one transaction (group commit): while one
/// batch commits, the next gathers, so under load a commit carries many records and costs
/// each request a share of one round trip. The chain's head is checkpointed by kms-cryptod
/// (AuditLog+Checkpoints): a batch brings a checkpoint of its last record along when the last
/// one is `checkpointInterval` old, and an idle or stopping writer checkpoints what is left.
public final class AuditLog: Sendable {
    /// One request waiting for its record's commit. Resumed exactly once: by the commit, by
    /// its failure, or by the watchdog when the wait outlasts the timeout.
    final class Waiter: Sendable {
        let entry: AuditEntry
        let enqueued: ContinuousClock.Instant
        /// Unsafe (no checking box per request): the Mutex's take() resumes it exactly once.
        private let continuation: Mutex<UnsafeContinuation<Void, any Error>?>

        init(_ entry: AuditEntry, _ continuation: UnsafeContinuation<Void, any Error>) {
            self.entry = entry
            self.enqueued = .now
            self.continuation = Mutex(continuation)
        }

        func resume(throwing error: (any Error)? = nil) {
            guard let continuation = self.continuation.withLock({ $0.take() }) else { return }
            if let error { continuation.resume(throwing: error) } else { continuation.resume() }
        }
    }

    struct State {
        var queue: [Waiter] = []
        var flushing = false
        /// The batch being written, for the watchdog.
        var writing: [Waiter] = []
        var watching = false
        /// The chain's head row as this kmsd last wrote or read it (only the flushing task uses it).
        var head: AuditStore.Head?
        /// The furthest head this kmsd committed, kept through errors: a head row found behind it
        /// was cut back behind the service's back.
        var committed: AuditStore.Head?
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
        /// kmsd is stopping: every batch brings a checkpoint, and the last records get one.
        var closing = false
    }

    enum Wake {
        case records, stop, checkpoint
    }

    /// A writer's next step: a batch to write, or its head to checkpoint.
    enum Work {
        case batch([Waiter])
        case checkpoint
    }

    public struct TimedOut: Error, CustomStringConvertible {
        public var description: String { "the audit record was not committed in time" }
    }

    let state = Mutex(State())
    let store: AuditStore
    /// This writer's chain: its records link only to one another, so kmsd replicas never wait on
    /// one another's head.
    let chain: String
    let logger: Logger
    /// How long a request waits for its record before it fails (closed: its result is never
    /// returned). PostgreSQL down, a full disk or a stalled connection cost callers this much
    /// at most, not their own timeouts.
    let timeout: Duration
    /// kms-cryptod, which MACs the checkpoints (nil: none are made).
    let worker: WorkerPool?
    /// A batch brings a checkpoint when the last is this old (zero: every batch); a head left
    /// uncovered when records stop is checkpointed this long after the last checkpoint.
    let checkpointInterval: Duration
    static let maximumBatch = 2000
    static let maximumBacklog = 20_000
    /// How long the writer keeps its connection while no record comes. Under load a commit
    /// often empties the queue until its requests come back with their next calls; without
    /// this, each batch would pay for a new writer task and a pool lease.
    static let linger = Duration.seconds(1)

    /// The writer runs on an event loop thread, as the requests and postgres-nio's connections do,
    /// rather than on Swift's global pool: no third set of threads to wake for every batch.
    private let executor = EventLoopTaskExecutor(MultiThreadedEventLoopGroup.singleton.next())

    public init(
        store: AuditStore, chain: String, timeout: Duration = .seconds(5), worker: WorkerPool? = nil,
        checkpointInterval: Duration = .milliseconds(100), logger: Logger
    ) {
        self.store = store
        self.chain = chain
        self.timeout = timeout
        self.worker = worker
        self.checkpointInterval = checkpointInterval
        self.logger = logger
    }

    /// Returns once the record is committed; throws when it could not be, or not in time.
    public func append(_ entry: AuditEntry) async throws {
        try await withUnsafeThrowingContinuation { (continuation: UnsafeContinuation<Void, any Error>) in
            let waiter = Waiter(entry, continuation)
            let (accepted, start, watch, writer) = self.state.withLock {
                state -> (Bool, Bool, Bool, CheckedContinuation<Wake, Never>?) in
                // While PostgreSQL is away, requests fail at once past this backlog instead of
                // queueing without bound.
                guard state.queue.count < Self.maximumBacklog else { return (false, false, false, nil) }
                state.queue.append(waiter)
                let watch = !state.watching
                state.watching = true
                if let writer = state.idleWriter {
                    state.idleWriter = nil
                    return (true, false, watch, writer)
                }
                guard !state.flushing else { return (true, false, watch, nil) }
                state.flushing = true
                return (true, true, watch, nil)
            }
            guard accepted else { return waiter.resume(throwing: TimedOut()) }
            writer?.resume(returning: .records)
            if start { Task(executorPreference: self.executor) { await self.drain() } }
            if watch { Task { await self.watch() } }
        }
    }

    /// Fails the requests whose records wait longer than the timeout, a few times a second;
    /// one loop for the whole log rather than a timer per request. Stops when nothing waits.
    private func watch() async {
        let tick = min(self.timeout / 4, .milliseconds(250))
        while true {
            try? await Task.sleep(for: tick)
            let deadline = ContinuousClock.now - self.timeout
            // Late records stay queued and are still written: the operation happened, only its
            // answer is withheld. (Resuming a waiter twice does nothing.)
            let (late, idle, stopWriter) = self.state.withLock { state -> ([Waiter], Bool, CheckedContinuation<Wake, Never>?) in
                let late = state.writing.filter { $0.enqueued < deadline } + state.queue.prefix { $0.enqueued < deadline }
                var stopWriter: CheckedContinuation<Wake, Never>?
                // A writer waiting to checkpoint its head is left to do it.
                if let writer = state.idleWriter, state.queue.isEmpty, self.idleCheckpointDue(state) == nil,
                   ContinuousClock.now - state.idleSince >= Self.linger {
                    state.idleWriter = nil
                    state.flushing = false
                    stopWriter = writer
                }
                let idle = state.queue.isEmpty && state.writing.isEmpty && state.idleWriter == nil
                if idle { state.watching = false }
                return (late, idle, stopWriter)
            }
            stopWriter?.resume(returning: .stop)
            if !late.isEmpty {
                ServiceMetrics.shared.auditFailures.increment()
                self.logger.error("audit records were not committed in time; their requests fail", metadata: [
                    "records": "\(late.count)", "timeout": "\(self.timeout)",
                ])
                for waiter in late { waiter.resume(throwing: TimedOut()) }
            }
            if idle { return }
        }
    }

    /// Chains the entries from the known head and writes them in one statement, with a
    /// checkpoint of the last one when one is due; when another writer moved the head meanwhile
    /// (two kmsd given the same chain), reads it and chains them again.
    private func write(_ batch: [Waiter], on connection: PostgresConnection) async throws {
        var cached = self.state.withLock { $0.head }
        while true {
            let expected: AuditStore.Head
            if let cached { expected = cached } else { expected = try await self.store.head(of: self.chain, on: connection) }
            let base = self.continuation(of: expected)
            var records: [AuditRecord] = []
            records.reserveCapacity(batch.count)
            var previous = (sequence: base.sequence, hash: base.hash)
            for waiter in batch {
                let entry = waiter.entry
                let sequence = previous.sequence + 1
                let digest = AuditChain.hash(sequence: sequence, entry: entry, previous: previous.hash)
                records.append(AuditRecord(chain: self.chain, sequence: sequence, entry: entry, previousHash: previous.hash, hash: digest))
                previous = (sequence, digest)
            }
            var head = base
            (head.sequence, head.hash) = previous
            var checkpoint: AuditStore.Checkpoint?
            if self.checkpointDue(), let made = await self.makeCheckpoint(of: head) {
                checkpoint = made
                head = head.checkpointed(made)
            }
            let written: Bool
            do {
                written = try await self.store.append(records, checkpoint: checkpoint, head: head, expecting: expected, on: connection)
            } catch {
                self.state.withLock { $0.head = nil }
                throw error
            }
            if written {
                self.committed(head, checkpointed: checkpoint != nil)
                return
            }
            cached = nil
        }
    }

    /// The next batch to write (now `writing`), or nil when nothing waits. `stop`: then the
    /// writer stops, and the next append starts another.
    private func takeBatch(stopWhenEmpty stop: Bool) -> [Waiter]? {
        self.state.withLock { state -> [Waiter]? in
            guard !state.queue.isEmpty else {
                if stop { state.flushing = false }
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
            if watch { Task { await self.watch() } }
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
        Task {
            try? await Task.sleep(until: due, clock: .continuous)
            let writer = self.state.withLock { state -> CheckedContinuation<Wake, Never>? in
                if state.checkpointTimer == due { state.checkpointTimer = nil }
                guard state.idleWriter != nil, let dueNow = self.idleCheckpointDue(state), dueNow <= .now else { return nil }
                defer { state.idleWriter = nil }
                return state.idleWriter
            }
            if let writer { writer.resume(returning: .checkpoint) } else { self.armCheckpointTimer() }
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
        // Records of requests already failed by the watchdog are written all the same: the
        // operation happened, only its answer was withheld.
        try await self.write(batch, on: connection)
        ServiceMetrics.shared.auditCommit.recordNanoseconds(ServiceMetrics.nanoseconds(ContinuousClock.now - started))
        ServiceMetrics.shared.auditBatchSize.record(batch.count)
        for waiter in batch { waiter.resume() }
    }

    /// Writes batches while records come, on one connection held meanwhile and on that
    /// connection's own event loop, so a batch's round trip crosses no threads. When a batch
    /// fails, its requests fail, the connection goes back to the pool (which drops it if broken)
    /// and the next batch takes another. `checkpointFirst`: started to checkpoint the head
    /// (kmsd stopping) rather than for a batch.
    func drain(checkpointFirst: Bool = false) async {
        var pending: Work
        if checkpointFirst {
            pending = .checkpoint
        } else {
            guard let batch = self.takeBatch(stopWhenEmpty: true) else { return }
            pending = .batch(batch)
        }
        while true {
            var batch: [Waiter] = []
            do {
                try await self.store.withConnection { connection in
                    try await withTaskExecutorPreference(EventLoopTaskExecutor(connection.eventLoop)) {
                        var work: Work? = pending
                        while let current = work {
                            switch current {
                            case .batch(let next):
                                batch = next
                                try await self.commit(batch, on: connection)
                            case .checkpoint:
                                await self.checkpointHead(on: connection)
                            }
                            work = await self.nextWork()
                        }
                    }
                }
                return
            } catch {
                if batch.isEmpty {
                    // Started to checkpoint the head (kmsd stopping), and no connection came.
                    ServiceMetrics.shared.auditCheckpointFailures.increment()
                    self.logger.error("the last audit records could not be checkpointed", metadata: ["error": "\(String(reflecting: error))"])
                } else {
                    ServiceMetrics.shared.auditFailures.increment()
                    self.logger.error("audit records could not be written; their requests fail", metadata: [
                        "records": "\(batch.count)", "error": "\(String(reflecting: error))",
                    ])
                }
                for waiter in batch { waiter.resume(throwing: error) }
                guard let next = self.takeBatch(stopWhenEmpty: true) else { return }
                pending = .batch(next)
            }
        }
    }
}
