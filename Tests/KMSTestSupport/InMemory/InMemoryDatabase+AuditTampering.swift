import Foundation
import KMSAuditChain
import KMSDomain
import KMSStore

extension InMemoryDatabase {
    /// Rewrites the stored records of `chain`'s segment that starts at `firstSequence`, behind the
    /// writer's back (its hashes and the head row left as they were): what someone holding the
    /// database could do, for tests that verification finds it. False when there is no such segment.
    @discardableResult
    public func editAuditRecords(chain: String, firstSequence: Int64, _ edit: (inout [AuditRecord]) -> Void)
        throws -> Bool
    {
        try self.state.withLock { tables in
            guard
                let index = tables.auditSegments.firstIndex(where: {
                    SQLText($0.chain) == SQLText(chain) && $0.firstSequence == firstSequence
                })
            else { return false }
            var records = try AuditSegment.decode(
                tables.auditSegments[index].records, chain: chain, firstSequence: firstSequence)
            edit(&records)
            tables.auditSegments[index].records = AuditSegment.encode(records)
            return true
        }
    }
}
