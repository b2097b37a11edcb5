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

    func note(grantID: String) {
        self.details.withLock { $0.grantID = grantID }
    }
}

/// The audit log's writer: a request's record is durable in PostgreSQL before its answer
/// leaves. Records of concurrent requests share one transaction (group commit): while one
/// batch commits, the next gathers, so under load a commit carries many records and costs
/// each request a share of one round trip.
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

    private struct State {
        var queue: [Waiter] = []
        var flushing = false
        /// The batch being written, for the watchdog.
        var writing: [Waiter] = []
        var watching = false
        /// The chain's head as this kmsd last wrote or read it (only the flushing task uses it).
        var head: AuditStore.Head?
        /// The writer when it waits for records, its connection held: the next append resumes it
        /// (true); the watchdog stops it (false) once nothing came for `linger`.
        var idleWriter: CheckedContinuation<Bool, Never>?
        var idleSince = ContinuousClock.now
    }

    public struct TimedOut: Error, CustomStringConvertible {
        public var description: String { "the audit record was not committed in time" }
    }

    private let state = Mutex(State())
    let store: AuditStore
    /// This writer's chain: its records link only to one another, so kmsd replicas never wait on
    /// one another's head.
    let chain: String
    let logger: Logger
    /// How long a request waits for its record before it fails (closed: its result is never
    /// returned). PostgreSQL down, a full disk or a stalled connection cost callers this much
    /// at most, not their own timeouts.
    let timeout: Duration
    static let maximumBatch = 2000
    static let maximumBacklog = 20_000
    /// How long the writer keeps its connection while no record comes. Under load a commit
    /// often empties the queue until its requests come back with their next calls; without
    /// this, each batch would pay for a new writer task and a pool lease.
    static let linger = Duration.seconds(1)

    /// The writer runs on an event loop thread, as the requests and postgres-nio's connections do,
    /// rather than on Swift's global pool: no third set of threads to wake for every batch.
    private let executor = EventLoopTaskExecutor(MultiThreadedEventLoopGroup.singleton.next())

    public init(store: AuditStore, chain: String, timeout: Duration = .seconds(5), logger: Logger) {
        self.store = store
        self.chain = chain
        self.timeout = timeout
        self.logger = logger
    }

    /// Returns once the record is committed; throws when it could not be, or not in time.
    public func append(_ entry: AuditEntry) async throws {
        try await withUnsafeThrowingContinuation { (continuation: UnsafeContinuation<Void, any Error>) in
            let waiter = Waiter(entry, continuation)
            let (accepted, start, watch, writer) = self.state.withLock {
                state -> (Bool, Bool, Bool, CheckedContinuation<Bool, Never>?) in
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
            writer?.resume(returning: true)
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
            let (late, idle, stopWriter) = self.state.withLock { state -> ([Waiter], Bool, CheckedContinuation<Bool, Never>?) in
                let late = state.writing.filter { $0.enqueued < deadline } + state.queue.prefix { $0.enqueued < deadline }
                var stopWriter: CheckedContinuation<Bool, Never>?
                if let writer = state.idleWriter, state.queue.isEmpty, ContinuousClock.now - state.idleSince >= Self.linger {
                    state.idleWriter = nil
                    state.flushing = false
                    stopWriter = writer
                }
                let idle = state.queue.isEmpty && state.writing.isEmpty && state.idleWriter == nil
                if idle { state.watching = false }
                return (late, idle, stopWriter)
            }
            stopWriter?.resume(returning: false)
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

    /// Chains the entries from the known head and writes them in one statement; when another
    /// writer moved the head meanwhile (two kmsd given the same chain), reads it and chains them again.
    private func write(_ batch: [Waiter], on connection: PostgresConnection) async throws {
        var head = self.state.withLock { $0.head }
        while true {
            let expected: AuditStore.Head
            if let head { expected = head } else { expected = try await self.store.head(of: self.chain, on: connection) }
            var records: [AuditRecord] = []
            records.reserveCapacity(batch.count)
            var previous = expected
            for waiter in batch {
                let entry = waiter.entry
                let sequence = previous.sequence + 1
                let digest = AuditChain.hash(sequence: sequence, entry: entry, previous: previous.hash)
                records.append(AuditRecord(chain: self.chain, sequence: sequence, entry: entry, previousHash: previous.hash, hash: digest))
                previous = AuditStore.Head(sequence: sequence, hash: digest)
            }
            let written: Bool
            do {
                written = try await self.store.append(records, expecting: expected, on: connection)
            } catch {
                self.state.withLock { $0.head = nil }
                throw error
            }
            if written {
                let newHead = previous
                self.state.withLock { $0.head = newHead }
                return
            }
            head = nil
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

    /// Waits for the next record; false when the watchdog stopped the writer instead.
    private func waitForRecords() async -> Bool {
        await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
            let (ready, watch) = self.state.withLock { state -> (Bool, Bool) in
                guard state.queue.isEmpty else { return (true, false) }
                state.idleWriter = continuation
                state.idleSince = .now
                // The watchdog may just have stopped, seeing nothing to do: one must run to end the wait.
                let watch = !state.watching
                state.watching = true
                return (false, watch)
            }
            if ready { continuation.resume(returning: true) }
            if watch { Task { await self.watch() } }
        }
    }

    /// The next batch, waiting for one while the connection is held; nil once the watchdog
    /// stopped the idle writer.
    private func nextBatch() async -> [Waiter]? {
        while true {
            if let batch = self.takeBatch(stopWhenEmpty: false) { return batch }
            guard await self.waitForRecords() else { return nil }
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
    /// and the next batch takes another.
    private func drain() async {
        guard var batch = self.takeBatch(stopWhenEmpty: true) else { return }
        while true {
            do {
                try await self.store.withConnection { connection in
                    try await withTaskExecutorPreference(EventLoopTaskExecutor(connection.eventLoop)) {
                        try await self.commit(batch, on: connection)
                        while let next = await self.nextBatch() {
                            batch = next
                            try await self.commit(batch, on: connection)
                        }
                    }
                }
                return
            } catch {
                ServiceMetrics.shared.auditFailures.increment()
                self.logger.error("audit records could not be written; their requests fail", metadata: [
                    "records": "\(batch.count)", "error": "\(String(reflecting: error))",
                ])
                for waiter in batch { waiter.resume(throwing: error) }
                guard let next = self.takeBatch(stopWhenEmpty: true) else { return }
                batch = next
            }
        }
    }
}
