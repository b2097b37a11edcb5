import KMSDomain
import KMSStore
import Synchronization

/// Several audit chains written by one kmsd, each by an `AuditLog` of its own, so that their
/// commits run side by side: one chain commits one batch at a time, and with PostgreSQL's commit
/// waiting for its WAL flush, a single chain caps a kmsd at (records per batch) / (commit
/// latency) however idle the cores are. The first lane is the kmsd's chain (`--audit-chain`);
/// the others are `<chain>.2`, `<chain>.3`, ... Records of changes (`pending`) and adopted ones
/// always go to the first, which is the chain their outbox rows name; the others take requests'
/// records in turn.
public final class AuditLanes: AuditWriting {
    /// The logs, the kmsd's own chain first.
    public let lanes: [AuditLog]
    private let next = Atomic<Int>(0)

    /// The chain of the lane `index` (0-based) of a kmsd whose chain is `chain`.
    public static func chain(_ chain: String, lane index: Int) -> String {
        index == 0 ? chain : "\(chain).\(index + 1)"
    }

    /// Lanes over the given logs; `lanes` must not be empty.
    public init(_ lanes: [AuditLog]) {
        precondition(!lanes.isEmpty, "an audit log needs at least one lane")
        self.lanes = lanes
    }

    /// The kmsd's own chain, the one changes' records name.
    public var chain: String { self.lanes[0].chain }

    /// Refused while any lane cannot be written: a request could land on it.
    public func admit() throws(KMSError) {
        for lane in self.lanes { try lane.admit() }
    }

    /// A change's record on the first lane (its outbox row names that chain); others in turn.
    public func append(_ entry: AuditEntry, pending: PendingAudit?) async throws {
        guard pending == nil, self.lanes.count > 1 else {
            return try await self.lanes[0].append(entry, pending: pending)
        }
        let index = self.next.wrappingAdd(1, ordering: .relaxed).oldValue
        try await self.lanes[index % self.lanes.count].append(entry, pending: nil)
    }

    /// Outbox records are chained by the first lane, as `append` chains a change's.
    public func adopt(_ records: [PendingAudit]) {
        self.lanes[0].adopt(records)
    }

    /// Closes every lane, side by side.
    public func close() async {
        await withDiscardingTaskGroup { group in
            for lane in self.lanes { group.addTask { await lane.close() } }
        }
    }
}
