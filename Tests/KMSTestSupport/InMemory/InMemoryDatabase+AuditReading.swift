import Foundation
import KMSAuditChain
import KMSDomain
import KMSServer
import KMSStore

/// The audit log read back as AuditStore+Reading and AuditStore+Checkpoints read it: what the
/// writer (`InMemoryAuditLog`) stored, decoded from its segment bytes, tampering included.
extension InMemoryDatabase: AuditReading {
    /// AuditStore.scan: segments after the marker's (its own again unless the marker is past all
    /// of it) whose summary columns match, in segment id order; their matching records after
    /// the marker; a resume marker past `maxSegments` segments read or past `deadline`.
    @discardableResult
    public func scan(
        _ filter: AuditStore.Filter, after: AuditStore.Marker, operations: [String]?, maxSegments: Int,
        deadline: ContinuousClock.Instant?, _ body: ([AuditStore.Listed]) throws -> Bool
    ) async throws -> AuditStore.Marker? {
        let cursor = after.sequence == .max ? after.segment : after.segment - 1
        let segments = self.read { tables in
            tables.auditSegments.filter { $0.id > cursor && $0.matches(filter, operations: operations) }
        }
        var read = 0
        for segment in segments {
            read += 1
            let matching = try AuditSegment.decode(
                segment.records, chain: segment.chain, firstSequence: segment.firstSequence
            ).filter {
                (segment.id != after.segment || $0.sequence > after.sequence) && filter.matches($0.entry)
                    && (operations?.contains($0.entry.operation) ?? true)
            }
            if !matching.isEmpty,
                try !body(
                    matching.map {
                        AuditStore.Listed(
                            record: $0, marker: AuditStore.Marker(segment: segment.id, sequence: $0.sequence))
                    })
            {
                return nil
            }
            if read >= maxSegments || deadline.map({ ContinuousClock.now >= $0 }) == true {
                return AuditStore.Marker(segment: segment.id, sequence: .max)
            }
        }
        return nil
    }

    /// AuditStore.chains: every head row, and every chain found only in segments or checkpoints
    /// (with no head), by chain id.
    public func chains() async throws -> [(chain: String, head: AuditStore.Head?)] {
        self.read { tables in
            var chains: [SQLText: AuditStore.Head?] = tables.auditHeads.mapValues { $0 }
            for segment in tables.auditSegments where chains[SQLText(segment.chain)] == nil {
                chains[SQLText(segment.chain)] = .some(nil)
            }
            for (chain, checkpoints) in tables.auditCheckpoints where !checkpoints.isEmpty && chains[chain] == nil {
                chains[chain] = .some(nil)
            }
            return chains.sorted { $0.key < $1.key }.map { (chain: $0.key.value, head: $0.value) }
        }
    }

    /// AuditStore.walk: the records of at most `segments` segments of `chain` whose first
    /// sequence is after `afterSegment`, by first sequence, unfiltered.
    public func walk(chain: String, afterSegment: Int64, segments: Int) async throws -> (
        records: [AuditRecord], lastSegment: Int64
    )? {
        try SQL.checkPage(limit: segments)
        let rows = self.read { tables in
            tables.auditSegments.filter { SQLText($0.chain) == SQLText(chain) && $0.firstSequence > afterSegment }
                .sorted { $0.firstSequence < $1.firstSequence }.prefix(segments)
        }
        var records: [AuditRecord] = []
        for row in rows {
            records.append(
                contentsOf: try AuditSegment.decode(row.records, chain: chain, firstSequence: row.firstSequence))
        }
        return rows.last.map { (records, $0.firstSequence) }
    }

    /// AuditStore.checkpoints: by number, after `number`.
    public func checkpoints(of chain: String, after number: Int64, limit: Int) async throws
        -> [AuditStore.Checkpoint]
    {
        try SQL.checkPage(limit: limit)
        return self.read { tables in
            (tables.auditCheckpoints[SQLText(chain)] ?? []).filter { $0.number > number }
                .sorted { $0.number < $1.number }.prefix(limit).map { $0 }
        }
    }
}
