import Foundation
import KMSAuditChain
import KMSDomain
import KMSServer
import KMSStore
import KMSWorkerProto
import Synchronization

/// The audit log's writer over `InMemoryDatabase`, for unit tests of the service with its audit
/// log: records are chained as `AuditLog` chains them (`AuditChain`, one segment per append)
/// into the database's audit tables, which `InMemoryDatabase`'s `AuditReading` reads back.
///
/// What it leaves out is what makes `AuditLog` a writer for PostgreSQL: group commit, the
/// watchdog, timeouts and outages (an append here is one step under the database's lock, so
/// it cannot fail half-way). The door (`admit`) is closed by hand (`refusing`). With `worker`
/// given, every append brings a checkpoint of its record, MACed by that worker (the real
/// writer's `checkpointInterval` of zero); a head left without one (an adopted record) is
/// checkpointed by `close`.
public final class InMemoryAuditLog: AuditWriting {
    /// The chain this writer extends.
    public let chain: String
    let database: InMemoryDatabase
    let worker: (any CryptoBackend)?
    private let door = Mutex(false)

    /// A writer of `chain` into `database`; `worker` MACs checkpoints (nil: none are made).
    public init(
        database: InMemoryDatabase, chain: String = AuditRecord.defaultChain, worker: (any CryptoBackend)? = nil
    ) {
        self.database = database
        self.chain = chain
        self.worker = worker
    }

    /// While true, `admit` refuses requests as `AuditLog` does during an outage.
    public var refusing: Bool {
        get { self.door.withLock { $0 } }
        set { self.door.withLock { $0 = newValue } }
    }

    /// AuditLog.admit's refusal while the door is closed.
    public func admit() throws(KMSError) {
        if self.refusing {
            throw KMSError.internalFailure(
                "the audit log cannot be written at the moment, so nothing was done; retry later")
        }
    }

    /// Chains `entry` (a change's record: only if still in the outbox, which it then leaves),
    /// then checkpoints it when there is a worker.
    public func append(_ entry: AuditEntry, pending: PendingAudit?) async throws {
        guard let head = self.link([(entry, pending)]) else { return }
        await self.checkpoint(head)
    }

    /// Nothing to wait for: `append` and `adopt` chain before they return.
    public func settle() async {}

    /// Chains the records at once, as one segment, without a checkpoint (nobody waits here).
    public func adopt(_ records: [PendingAudit]) {
        self.link(records.map { ($0.entry, $0) })
    }

    /// Checkpoints the head if no checkpoint covers it.
    public func close() async {
        let head = self.database.state.withLock { $0.auditHeads[SQLText(self.chain)] }
        if let head, head.uncovered > 0 { await self.checkpoint(head) }
    }

    /// Chains the records that are to be (a change's record only while it is still in the outbox)
    /// from the head row, as AuditLog.write does, in one step; the new head, nil when nothing was
    /// left to chain.
    @discardableResult
    private func link(_ batch: [(entry: AuditEntry, pending: PendingAudit?)]) -> AuditStore.Head? {
        self.database.state.withLock { tables -> AuditStore.Head? in
            let outbox = Set(tables.outbox.map(\.id))
            // A change's record another writer chained first is not chained again.
            let batch = batch.filter { $0.pending.map { outbox.contains($0.id) } ?? true }
            guard !batch.isEmpty else { return nil }
            let expected = tables.auditHead(of: self.chain)
            let (records, last) = AuditChain.link(
                batch.lazy.map(\.0), chain: self.chain, after: (expected.sequence, expected.hash))
            var head = expected
            (head.sequence, head.hash) = last
            let written = tables.appendAudit(
                records, checkpoint: nil, head: head, expecting: expected, pending: batch.compactMap { $0.pending?.id })
            precondition(written, "the in-memory audit head moved under its lock")
            return head
        }
    }

    /// kms-cryptod's checkpoint of `head` (AuditLog.makeCheckpoint), stored if the head row has
    /// not moved meanwhile (else the next append brings one).
    private func checkpoint(_ head: AuditStore.Head) async {
        guard let worker = self.worker else { return }
        let request = WorkerMacAuditCheckpointRequest(next: head, of: self.chain)
        guard let response = try? await worker.call(WorkerMethod.macAuditCheckpoint, request),
            let root = UUID(uuidString: response.rootKeyID)
        else { return }
        let made = AuditStore.Checkpoint(
            chain: self.chain, number: head.checkpoint + 1, sequence: head.sequence, hash: head.hash,
            microseconds: response.timeMicros, rootKeyID: root, mac: Array(response.mac))
        _ = self.database.state.withLock { $0.checkpointAudit(made, head: head.checkpointed(made), expecting: head) }
    }
}
