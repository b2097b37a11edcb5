import Foundation
import KMSDomain
import KMSRPC
import KMSStore
import KMSWorkerProto
import PostgresNIO
import Synchronization

/// Checkpoints: kms-cryptod's MAC over the chain's head (KMSCrypto's AuditCheckpoint), stored in
/// the same statement as the batch it covers, so they cost no round trip of their own under
/// load. Records after the last checkpoint are what whoever holds the database could drop
/// unseen once kmsd is gone, so that gap is kept to `checkpointInterval` of records, and closed
/// when records stop coming and when kmsd stops. kms-cryptod being away never holds records up:
/// they are written without a checkpoint, and the next one covers them.
extension AuditLog {
    /// The longest a batch waits for kms-cryptod's MAC before it is written without one.
    static let macDeadline = Duration.milliseconds(250)
    /// After kms-cryptod did not answer, no checkpoint is tried for this long.
    static let checkpointBackoff = Duration.seconds(1)

    /// Whether the batch being written brings a checkpoint along.
    func checkpointDue() -> Bool {
        self.state.withLock { $0.checkpointDue(now: .now, self.timing) }
    }

    func idleCheckpointDue(_ state: State) -> ContinuousClock.Instant? {
        state.idleCheckpointDue(now: .now, self.timing)
    }

    /// Where the chain goes on from: the head row, unless it is behind what this kmsd committed.
    /// Then records (or checkpoints) were deleted behind the service's back, and the chain goes on
    /// from where this kmsd knows it was, so that the hole shows to `kms audit verify` rather
    /// than being papered over by new records and checkpoints.
    func continuation(of row: AuditStore.Head) -> AuditStore.Head {
        guard let committed = self.state.withLock({ $0.committed }),
            row.sequence < committed.sequence || row.checkpoint < committed.checkpoint
        else { return row }
        self.logger.critical(
            """
            the audit chain's head row is behind what this kmsd wrote: records or checkpoints were deleted behind \
            the service's back; the chain goes on from where it was, so kms audit verify shows the hole
            """,
            metadata: [
                "chain": "\(self.chain)", "head_row_sequence": "\(row.sequence)",
                "written_sequence": "\(committed.sequence)",
                "head_row_checkpoint": "\(row.checkpoint)", "written_checkpoint": "\(committed.checkpoint)",
            ])
        var base = row
        if row.sequence < committed.sequence { (base.sequence, base.hash) = (committed.sequence, committed.hash) }
        if row.checkpoint < committed.checkpoint {
            (base.checkpoint, base.checkpointSequence, base.checkpointMAC) = (
                committed.checkpoint, committed.checkpointSequence, committed.checkpointMAC
            )
        }
        return base
    }

    /// Notes a head row this kmsd wrote.
    func committed(_ head: AuditStore.Head, checkpointed: Bool) {
        self.state.withLock { state in
            state.head = head
            if state.committed.map({ head.sequence >= $0.sequence && head.checkpoint >= $0.checkpoint }) ?? true {
                state.committed = head
            }
            if checkpointed {
                state.lastCheckpoint = .now
                state.checkpointRetry = nil
            }
        }
    }

    /// kms-cryptod's checkpoint of `head`'s last record, following the head's last checkpoint;
    /// nil when it did not answer in time (logged; nothing is tried for a while then).
    func makeCheckpoint(of head: AuditStore.Head) async -> AuditStore.Checkpoint? {
        guard let worker = self.worker else { return nil }
        let asked = WorkerMacAuditCheckpointRequest(next: head, of: self.chain)
        do {
            let response = try await withDeadline(Self.macDeadline) {
                try await worker.call(WorkerMethod.macAuditCheckpoint, asked)
            }
            guard let root = UUID(uuidString: response.rootKeyID), response.mac.count == 32 else {
                throw KMSError.internalFailure(
                    "kms-cryptod answered a checkpoint without a root key id or a 32-byte MAC")
            }
            let failed = self.state.withLock { state in
                defer { state.checkpointsFailing = 0 }
                return state.checkpointsFailing
            }
            if failed > 0 {
                self.logger.notice(
                    "kms-cryptod makes audit checkpoints again",
                    metadata: ["chain": "\(self.chain)", "failed_tries": "\(failed)"])
            }
            return AuditStore.Checkpoint(
                chain: self.chain, number: head.checkpoint + 1, sequence: head.sequence, hash: head.hash,
                microseconds: response.timeMicros, rootKeyID: root, mac: Array(response.mac)
            )
        } catch {
            self.metrics.auditCheckpointFailures.increment()
            let first = self.state.withLock { state in
                state.checkpointRetry = .now + Self.checkpointBackoff
                state.checkpointsFailing += 1
                return state.checkpointsFailing == 1
            }
            // Once per incident (a saturated kms-cryptod misses the deadline every second or so);
            // the metric counts every try.
            if first {
                self.logger.warning(
                    "no audit checkpoint: kms-cryptod did not make one; records are written without one until it does",
                    metadata: [
                        "chain": "\(self.chain)", "error": "\(error)",
                    ])
            }
            return nil
        }
    }

    /// Checkpoints the head this kmsd wrote last, when no checkpoint covers it (records stopped
    /// coming, or kmsd stops). A failure is logged, not thrown: no request waits on it.
    func checkpointHead(on connection: PostgresConnection) async {
        guard var row = self.state.withLock({ $0.head }) else { return }
        do {
            // A second try only after the head row moved under it: another writer of the chain
            // (nothing left to do then), or one cut back behind the service's back.
            for _ in 0..<2 {
                let base = self.continuation(of: row)
                guard base.uncovered > 0 else {
                    self.state.withLock { $0.head = row }
                    return
                }
                guard let made = await self.makeCheckpoint(of: base) else { return }
                let head = base.checkpointed(made)
                let expected = row
                if try await self.bounded(
                    connection,
                    { try await self.store.checkpoint(made, head: head, expecting: expected, on: connection) })
                {
                    self.committed(head, checkpointed: true)
                    return
                }
                row = try await self.bounded(connection) { try await self.store.head(of: self.chain, on: connection) }
            }
        } catch {
            self.state.withLock { $0.head = nil }
            self.metrics.auditCheckpointFailures.increment()
            self.logger.error(
                "an audit checkpoint could not be stored",
                metadata: ["chain": "\(self.chain)", "error": "\(String(reflecting: error))"])
        }
    }

    /// For kmsd stopping, after its listeners closed: waits (at most the audit timeout) for the
    /// records still queued, each batch now with a checkpoint, and checkpoints the head if the
    /// last records went without one, so the last checkpoint covers the last record.
    public func close() async {
        enum Step { case done, wait, wake, start }
        self.state.withLock { $0.closing = true }
        let deadline = ContinuousClock.now + self.timeout
        while ContinuousClock.now < deadline {
            let step = self.state.withLock { state -> Step in
                guard state.queue.isEmpty, state.writing.isEmpty else { return .wait }
                guard self.idleCheckpointDue(state) != nil else { return .done }
                if state.idleWriter != nil { return .wake }
                guard !state.flushing else { return .wait }
                state.flushing = true
                return .start
            }
            switch step {
            case .done: return
            case .wait: break
            case .wake: self.wakeToCheckpoint()
            case .start: self.startWriter(checkpointFirst: true)
            }
            try? await Task.sleep(for: .milliseconds(10))
        }
        self.logger.warning(
            "kmsd stops before its last audit records were checkpointed", metadata: ["chain": "\(self.chain)"])
    }
}

extension WorkerMacAuditCheckpointRequest {
    /// The request for the checkpoint that follows `head` of `chain`: the next number, covering
    /// the head's record and linking to the previous checkpoint's MAC (what every writer of the
    /// log, kmsd's and the in-memory one of the tests, asks kms-cryptod to MAC).
    public init(next head: AuditStore.Head, of chain: String) {
        self.init()
        self.checkpoint.chainID = chain
        self.checkpoint.number = head.checkpoint + 1
        self.checkpoint.sequence = head.sequence
        self.checkpoint.recordHash = Data(head.hash)
        self.checkpoint.previousMac = Data(head.checkpointMAC)
    }
}
