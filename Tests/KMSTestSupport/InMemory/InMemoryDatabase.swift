import Foundation
import KMSDomain
import KMSStore
import Synchronization

/// The service core's database in memory, for unit tests of KMSService: one object whose tables
/// are those the store ports reach (keys, material versions, aliases, grants, rotations, tags,
/// last use, usage counters, deleted-key tombstones, accounts, principals, access keys,
/// identity policies, re-wrap jobs, the audit log's segments, chain heads and checkpoints),
/// implementing all ten ports (`stores`) as the PostgreSQL stores' SQL does, constraints and
/// cascades included; `InMemoryAuditLog` writes its audit log. Every call runs under one lock,
/// so each is atomic and calls are serialized, as PostgreSQL's row locks serialize the stores'
/// transactions. StoreContractTests runs the same scenarios against both.
///
/// The audit records of changes that took effect are kept in `committedAudits` (PostgreSQL's
/// `kms_audit_pending`), each marked committed after its change, as the stores do after COMMIT,
/// until the audit log's writer chains them.
public final class InMemoryDatabase: Sendable {
    /// A statement PostgreSQL would refuse: a unique or foreign key violation, a negative LIMIT.
    /// The PostgreSQL stores throw PSQLError there; callers treat both as a failed call.
    public struct Refused: Error, CustomStringConvertible {
        /// What was refused, in PostgreSQL's terms.
        public let description: String

        init(_ description: String) { self.description = description }
    }

    /// What the reaper keeps of a deleted key for billing (`kms_deleted_keys`).
    public struct DeletedKey: Sendable, Hashable {
        /// The key's ARN (the table's primary key).
        public var arn: String
        /// The key's account.
        public var account: String
        /// The key's region.
        public var region: String
        /// The key's spec.
        public var spec: KeySpec
        /// The key's manager.
        public var manager: KeyManager
        /// When the key was created.
        public var creationDate: Date
        /// When its deletion was scheduled: the deletion date less the window.
        public var scheduledAt: Date
        /// The cutoff of the round that deleted it.
        public var deletedAt: Date
        /// Its rotations' dates, oldest first.
        public var rotationDates: [Date]
    }

    let partition: String
    let clock: @Sendable () -> Date
    let state: Mutex<Tables>

    /// An empty database. `partition` makes alias ARNs (AliasStore's scope); `now` is the
    /// database's own clock (PostgreSQL's `now()`): material creation times, the reaper's
    /// database time, the age of usage flush ids, the start of last-use tracking.
    public init(partition: String = "aws", now: @escaping @Sendable () -> Date = { Date() }) {
        self.partition = partition
        self.clock = now
        self.state = Mutex(Tables(trackingStart: SQL.timestamptz(now())))
    }

    /// The audit records stored with changes that took effect, in the order they were stored.
    public var committedAudits: [PendingAudit] { self.state.withLock { $0.outbox } }

    /// The tombstones the reaper kept, by ARN.
    public var deletedKeys: [DeletedKey] {
        self.state.withLock { $0.deletedKeys.values.sorted { SQLText($0.arn) < SQLText($1.arn) } }
    }

    /// The database's clock, as PostgreSQL's `now()` would read back.
    var now: Date { SQL.timestamptz(self.clock()) }

    /// Runs a change under the lock; when `effective` says it took effect, stores `audit` with
    /// it in the same step, then (outside the lock: it may run the record's late handler) marks
    /// the record committed. A throwing body must not have changed anything.
    func change<T: Sendable>(
        recording audit: PendingAudit?, effective: (T) -> Bool = { _ in true },
        _ body: (inout Tables) throws -> T
    ) throws -> T {
        let (result, recorded) = try self.state.withLock { tables -> (T, Bool) in
            let result = try body(&tables)
            guard let audit, effective(result) else { return (result, false) }
            tables.outbox.append(audit)
            return (result, true)
        }
        if recorded { audit?.markCommitted() }
        return result
    }

    /// Reads under the lock.
    func read<T: Sendable>(_ body: (Tables) throws -> T) rethrows -> T {
        try self.state.withLock { try body($0) }
    }
}
