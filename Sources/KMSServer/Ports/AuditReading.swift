import Foundation
import KMSDomain
import KMSStore

/// The audit log as read back by ListAuditRecords and VerifyAuditLog (AuditStore in PostgreSQL;
/// AuditLog writes it, outside this port). The log is chains of records, each chain stored as
/// segments (numbered in the order they were inserted, across chains) and checkpoints.
/// Reading never changes it; a verification must see exactly what is stored, tampering
/// included, so an implementation returns what it holds and filters only as asked.
public protocol AuditReading: Sendable {
    /// Calls `body` with the records matching `filter` (and, when given, one of `operations`)
    /// of successive segments after `after`, in segment order, until `body` returns false (nil
    /// returned) or the log ends (nil). Past `maxSegments` segments read, or past `deadline`,
    /// it stops and returns the marker to go on from (`Marker(segment:, sequence: .max)`: past
    /// the whole of the last segment read). A segment that cannot be decoded throws
    /// `AuditSegment.Unreadable`.
    @discardableResult
    func scan(
        _ filter: AuditStore.Filter, after: AuditStore.Marker, operations: [String]?, maxSegments: Int,
        deadline: ContinuousClock.Instant?, _ body: ([AuditStore.Listed]) throws -> Bool
    ) async throws -> AuditStore.Marker?

    /// Every chain, with its head row when there is one; a chain found only in segments or
    /// checkpoints (its head row deleted behind the service's back) comes with nil.
    func chains() async throws -> [(chain: String, head: AuditStore.Head?)]

    /// Every record, unfiltered and in stored order, of at most `segments` segments of `chain`
    /// whose first sequence is after `afterSegment`, with the last one's first sequence; nil
    /// when no segment follows. A segment that cannot be decoded throws `AuditSegment.Unreadable`.
    func walk(chain: String, afterSegment: Int64, segments: Int) async throws -> (
        records: [AuditRecord], lastSegment: Int64
    )?

    /// At most `limit` checkpoints of `chain` numbered after `number`, in order.
    func checkpoints(of chain: String, after number: Int64, limit: Int) async throws -> [AuditStore.Checkpoint]
}

extension AuditStore: AuditReading {}
