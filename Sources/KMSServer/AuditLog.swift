import Foundation
import KMSCrypto
import KMSDomain
import KMSStore
import Logging
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
            if let encryptionContext, !encryptionContext.isEmpty, details.encryptionContext == nil {
                details.encryptionContext = encryptionContext
            }
        }
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
    private struct Pending {
        let entry: AuditEntry
        let continuation: CheckedContinuation<Void, any Error>
    }

    private struct State {
        var queue: [Pending] = []
        var flushing = false
        /// The chain's head as this kmsd last wrote or read it (only the flushing task uses it).
        var head: AuditStore.Head?
    }

    private let state = Mutex(State())
    let store: AuditStore
    let logger: Logger
    static let maximumBatch = 2000

    public init(store: AuditStore, logger: Logger) {
        self.store = store
        self.logger = logger
    }

    /// Returns once the record is committed; throws when it could not be.
    public func append(_ entry: AuditEntry) async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            let start = self.state.withLock { state -> Bool in
                state.queue.append(Pending(entry: entry, continuation: continuation))
                guard !state.flushing else { return false }
                state.flushing = true
                return true
            }
            if start { Task { await self.drain() } }
        }
    }

    /// Chains the entries from the known head and writes them in one statement; when another
    /// kmsd moved the head meanwhile, reads it and chains them again.
    private func write(_ entries: [AuditEntry]) async throws {
        var head = self.state.withLock { $0.head }
        while true {
            let expected: AuditStore.Head
            if let head { expected = head } else { expected = try await self.store.head() }
            var records: [AuditRecord] = []
            var previous = expected
            for entry in entries {
                let sequence = previous.sequence + 1
                let digest = AuditChain.hash(sequence: sequence, entry: entry, previous: previous.hash)
                records.append(AuditRecord(sequence: sequence, entry: entry, previousHash: previous.hash, hash: digest))
                previous = AuditStore.Head(sequence: sequence, hash: digest)
            }
            let written: Bool
            do {
                written = try await self.store.append(records, expecting: expected)
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

    private func drain() async {
        while true {
            let batch = self.state.withLock { state -> [Pending] in
                guard !state.queue.isEmpty else {
                    state.flushing = false
                    return []
                }
                let count = min(state.queue.count, Self.maximumBatch)
                let batch = Array(state.queue.prefix(count))
                state.queue.removeFirst(count)
                return batch
            }
            if batch.isEmpty { return }
            do {
                let started = ContinuousClock.now
                try await self.write(batch.map(\.entry))
                ServiceMetrics.shared.auditCommit.recordNanoseconds(ServiceMetrics.nanoseconds(ContinuousClock.now - started))
                ServiceMetrics.shared.auditBatchSize.record(batch.count)
                for pending in batch { pending.continuation.resume() }
            } catch {
                ServiceMetrics.shared.auditFailures.increment()
                self.logger.error("audit records could not be written; their requests fail", metadata: [
                    "records": "\(batch.count)", "error": "\(String(reflecting: error))",
                ])
                for pending in batch { pending.continuation.resume(throwing: error) }
            }
        }
    }
}
