import Foundation
import KMSAuditChain
import KMSDomain
import KMSStore
import NIOCore

/// The audit log's tables as AuditStore's statements change them: the segments (records stored
/// as `AuditSegment` bytes, so reading them back decodes exactly what PostgreSQL would return),
/// the chains' head rows and the checkpoints.
extension Tables {
    /// One row of kms_audit_segments: a group commit, with the summary columns a listing
    /// narrows its search by.
    struct AuditSegmentRow {
        var id: Int64
        var chain: String
        var firstSequence: Int64
        var lastSequence: Int64
        /// min_time and max_time, in microseconds since 1970.
        var earliest: Int64
        var latest: Int64
        var keyARNs: Set<SQLText>
        var principals: Set<SQLText>
        var operations: Set<SQLText>
        var errorCodes: Set<SQLText>
        var records: ByteBuffer

        /// AuditStore.scan's WHERE clause on the summary columns; `from` and `to` as postgres-nio
        /// sends them (whole microseconds).
        func matches(_ filter: AuditStore.Filter, operations wanted: [String]?) -> Bool {
            if let arn = filter.keyARN, !self.keyARNs.contains(SQLText(arn)) { return false }
            if let principal = filter.principalARN, !self.principals.contains(SQLText(principal)) { return false }
            if let operation = filter.operation, !self.operations.contains(SQLText(operation)) { return false }
            if let wanted, !wanted.contains(where: { self.operations.contains(SQLText($0)) }) { return false }
            if let code = filter.errorCode, !self.errorCodes.contains(SQLText(code)) { return false }
            if let from = filter.from, self.latest < SQL.micros(from) { return false }
            if let to = filter.to, self.earliest >= SQL.micros(to) { return false }
            return true
        }
    }

    /// AuditStore.head(of:): the head row, inserted at the genesis when the chain has none.
    mutating func auditHead(of chain: String) -> AuditStore.Head {
        if let head = self.auditHeads[SQLText(chain)] { return head }
        let head = AuditStore.Head(sequence: 0, hash: AuditRecord.genesis)
        self.auditHeads[SQLText(chain)] = head
        return head
    }

    /// kms_audit_append_segment: the head row moves to `head` only if it is still `expected`
    /// and every one of `pending` is still in the outbox; then those leave the outbox, the
    /// segment goes in, and `checkpoint` with it. False, nothing written, otherwise.
    mutating func appendAudit(
        _ records: [AuditRecord], checkpoint: AuditStore.Checkpoint?, head: AuditStore.Head,
        expecting expected: AuditStore.Head, pending: [UUID]
    ) -> Bool {
        guard let first = records.first, let last = records.last else { return true }
        let chain = SQLText(first.chain)
        guard let stored = self.auditHeads[chain], stored.sequence == expected.sequence,
            stored.hash == expected.hash, stored.checkpoint == expected.checkpoint,
            Set(pending).isSubset(of: Set(self.outbox.map(\.id)))
        else { return false }
        self.auditHeads[chain] = head
        self.outbox.removeAll { pending.contains($0.id) }
        if let checkpoint { self.auditCheckpoints[chain, default: []].append(checkpoint) }
        self.auditSegmentSequence += 1
        let entries = records.map(\.entry)
        self.auditSegments.append(
            AuditSegmentRow(
                id: self.auditSegmentSequence, chain: first.chain, firstSequence: first.sequence,
                lastSequence: last.sequence, earliest: entries.map(\.microseconds).min()!,
                latest: entries.map(\.microseconds).max()!, keyARNs: Set(entries.flatMap(\.keyARNs).map(SQLText.init)),
                principals: Set(entries.map { SQLText($0.principalARN) }),
                operations: Set(entries.map { SQLText($0.operation) }),
                errorCodes: Set(entries.compactMap(\.errorCode).map(SQLText.init)),
                records: AuditSegment.encode(records)))
        return true
    }

    /// AuditStore.checkpoint: a checkpoint with no records, if the head row is still `expected`.
    mutating func checkpointAudit(
        _ checkpoint: AuditStore.Checkpoint, head: AuditStore.Head, expecting expected: AuditStore.Head
    ) -> Bool {
        let chain = SQLText(checkpoint.chain)
        guard let stored = self.auditHeads[chain], stored.sequence == expected.sequence,
            stored.hash == expected.hash, stored.checkpoint == expected.checkpoint
        else { return false }
        self.auditHeads[chain] = head
        self.auditCheckpoints[chain, default: []].append(checkpoint)
        return true
    }
}

extension SQL {
    /// A Date as postgres-nio sends it, in whole microseconds since 1970 (truncated toward zero
    /// from 2000-01-01, as `timestamptz(_:)`).
    static func micros(_ date: Date) -> Int64 {
        let start = Date(timeIntervalSince1970: 946_684_800)
        return Int64(date.timeIntervalSince(start) * 1_000_000) + 946_684_800_000_000
    }
}
