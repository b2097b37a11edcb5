import Foundation
import KMSAuditChain
import KMSDomain
import Logging
import PostgresNIO
import Synchronization

/// The audit record of a change (a key, alias, grant, tag, policy or principal written), stored
/// in the change's own transaction: the change and its record commit together or not at all.
/// The record waits in `kms_audit_pending` until the log's writer chains it (and deletes it in
/// the same statement, `AuditStore.append`); a kmsd that stopped before chaining its own finds
/// them when it starts again (`AuditOutbox.pending`). The chain itself cannot take the record in
/// the change's transaction: its head is the one row every request of this kmsd goes through.
public final class PendingAudit: Sendable {
    /// The outbox row's id; the writer deletes the row by it as it chains the record.
    public let id: UUID
    /// The chain of the kmsd writer that stored the record: the one to chain it, unless that kmsd
    /// stopped for good and another adopts it (`AuditOutbox.orphaned`).
    public let chain: String
    /// The record as it will be chained.
    public let entry: AuditEntry
    private struct State {
        var committed = false
        /// Set when the request gave up on its change before the change said how it went (a
        /// database call past its deadline keeps running): called if it commits after all.
        var late: (@Sendable (PendingAudit) -> Void)?
    }

    private let state = Mutex(State())

    /// A record to pass to a store's change, which inserts it in the change's transaction.
    public init(id: UUID = UUID(), chain: String, entry: AuditEntry) {
        self.id = id
        self.chain = chain
        self.entry = entry
    }

    /// Whether the change took effect and this record committed with it.
    public var committed: Bool { self.state.withLock { $0.committed } }

    /// A record found in `kms_audit_pending`: committed by definition.
    init(recovered id: UUID, chain: String, entry: AuditEntry) {
        self.id = id
        self.chain = chain
        self.entry = entry
        self.state.withLock { $0.committed = true }
    }

    /// The request is answered without knowing whether its change will commit: `late` is called
    /// with this record if it does, so the record is chained then rather than left in the outbox
    /// until kmsd restarts. False when the change committed already (the caller chains it now).
    public func whenCommittedLate(_ late: @escaping @Sendable (PendingAudit) -> Void) -> Bool {
        self.state.withLock { state in
            if state.committed { return false }
            state.late = late
            return true
        }
    }

    /// Marks the record committed with its change. Only a store calls this (KMSServer's store
    /// ports require it), once the change and this record are durable together; PostgreSQL's
    /// stores call it after their COMMIT. Runs the `whenCommittedLate` handler, if one was set.
    public func markCommitted() {
        let late = self.state.withLock { state in
            state.committed = true
            return state.late.take()
        }
        late?(self)
    }
}

/// The table of change records waiting to be chained (`kms_audit_pending`).
public enum AuditOutbox {
    /// A pending record's bytes: a one-record segment (`AuditSegment`'s layout) with sequence 0
    /// and zero hashes, which the writer replaces when it chains the record.
    static func encode(_ entry: AuditEntry) -> ByteBuffer {
        AuditSegment.encode([
            AuditRecord(sequence: 0, entry: entry, previousHash: AuditRecord.genesis, hash: AuditRecord.genesis)
        ])
    }

    static func decode(_ stored: ByteBuffer, chain: String) -> AuditEntry? {
        guard let records = try? AuditSegment.decode(stored, chain: chain, firstSequence: 0), records.count == 1 else {
            return nil
        }
        return records[0].entry
    }

    static func insert(_ audit: PendingAudit, on connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query(
            """
            INSERT INTO kms_audit_pending (id, chain_id, record)
                VALUES (\(audit.id), \(audit.chain), \(Self.encode(audit.entry)))
            """,
            logger: logger
        )
    }

    /// `audit`'s row as the data-modifying CTE `recorded` of a statement whose CTE `change`
    /// returns the rows a change made: inserted only when there is one. Its values are appended
    /// to `binds` and named by their positions there.
    static func recorded(_ audit: PendingAudit, whenChanged binds: inout PostgresBindings) -> String {
        let first = binds.count + 1
        binds.append(audit.id)
        binds.append(audit.chain)
        binds.append(Self.encode(audit.entry))
        return """
            recorded AS (
                INSERT INTO kms_audit_pending (id, chain_id, record)
                SELECT $\(first), $\(first + 1), $\(first + 2) WHERE EXISTS (SELECT 1 FROM change)
            )
            """
    }

    /// The records of `chain` committed with their changes and not chained yet, oldest first:
    /// those a kmsd stopped before chaining. One that no longer reads (its bytes changed outside
    /// the service) is returned as unreadable, to be reported, never silently dropped.
    public static func pending(of chain: String, client: PostgresClient, logger: Logger) async throws -> (
        records: [PendingAudit], unreadable: [UUID]
    ) {
        let rows = try await client.query(
            "SELECT id, record FROM kms_audit_pending WHERE chain_id = \(chain) ORDER BY created_at, id",
            logger: logger
        )
        var records: [PendingAudit] = []
        var unreadable: [UUID] = []
        for try await (id, record) in rows.decode((UUID, ByteBuffer).self) {
            if let entry = Self.decode(record, chain: chain) {
                records.append(PendingAudit(recovered: id, chain: chain, entry: entry))
            } else {
                unreadable.append(id)
            }
        }
        return (records, unreadable)
    }

    /// Records of any chain that have waited longer than `age` by PostgreSQL's clock, oldest
    /// first, at most `limit`. Another chain's: a kmsd that stopped before chaining them and does
    /// not come back under its chain (a pod's chain is its name, and a new pod has a new one).
    /// The sweeping kmsd's own: changes whose commit it never heard (the connection lost with the
    /// answer), which it would otherwise chain only when it restarts. A live kmsd chains its
    /// records within milliseconds; one that still holds them when they are adopted finds them
    /// chained elsewhere (`stillPending`) and lets them go. Unreadable ones are returned by id
    /// with their chain, as `pending` does; those named in `skipping` (found unreadable before)
    /// are passed over, so that rows nobody can chain never fill the batch ahead of those that
    /// can be.
    public static func orphaned(
        olderThan age: Duration, limit: Int, skipping: [UUID] = [], client: PostgresClient, logger: Logger
    ) async throws -> (records: [PendingAudit], unreadable: [(id: UUID, chain: String)]) {
        let seconds = Double(age.components.seconds) + Double(age.components.attoseconds) / 1e18
        let rows = try await client.query(
            """
            SELECT id, chain_id, record FROM kms_audit_pending
                WHERE created_at < clock_timestamp() - make_interval(secs => \(seconds))
                    AND NOT (id = ANY(\(skipping)))
                ORDER BY created_at, id LIMIT \(limit)
            """,
            logger: logger
        )
        var records: [PendingAudit] = []
        var unreadable: [(id: UUID, chain: String)] = []
        for try await (id, owner, record) in rows.decode((UUID, String, ByteBuffer).self) {
            if let entry = Self.decode(record, chain: owner) {
                records.append(PendingAudit(recovered: id, chain: owner, entry: entry))
            } else {
                unreadable.append((id, owner))
            }
        }
        return (records, unreadable)
    }

    /// Which of `ids` are still pending (the others were chained already, by another writer).
    public static func stillPending(_ ids: [UUID], on connection: PostgresConnection, logger: Logger) async throws
        -> Set<UUID>
    {
        let rows = try await connection.query("SELECT id FROM kms_audit_pending WHERE id = ANY(\(ids))", logger: logger)
        var found: Set<UUID> = []
        for try await id in rows.decode(UUID.self) { found.insert(id) }
        return found
    }
}

extension PostgresClient {
    /// Runs a change in one transaction and, when it took effect (`effective` of its result),
    /// stores `audit` in the same transaction: both commit or neither does.
    func change<T>(
        recording audit: PendingAudit?, logger: Logger, effective: (T) -> Bool = { _ in true },
        _ body: (PostgresConnection) async throws -> T
    ) async throws -> T {
        var recorded = false
        let result = try await self.withTransaction(logger: logger) { connection in
            let result = try await body(connection)
            if let audit, effective(result) {
                try await AuditOutbox.insert(audit, on: connection, logger: logger)
                recorded = true
            }
            return result
        }
        if recorded { audit?.markCommitted() }
        return result
    }
}
