import Foundation
import KMSDomain
import KMSServer
import KMSStore
import KMSTestSupport
import Logging
import PostgresNIO
import Synchronization
import Testing

/// The outbox sweeper against PostgreSQL: rows that no longer read (changed outside the service)
/// are reported and left where they are, and must not keep the records behind them from being
/// chained. Before, each round read the oldest batch again, so a batch's worth of such rows
/// hid every orphan queued after them for good.
@Suite struct AuditOrphanSweepTests {
    @Test func unreadableRowsDoNotHideTheOrphansBehindThem() async throws {
        try await StoreBackend.withPostgres { client, stores in
            let orphan = Fixture.audit("CreateKey")
            try await stores.keys.insert(
                Fixture.key(), material: Fixture.material(1), alias: nil, tags: [], audit: orphan)
            let tampered = AuditOrphanSweeper.batch + 5
            try await client.query(
                """
                INSERT INTO kms_audit_pending (id, chain_id, created_at, record)
                    SELECT gen_random_uuid(), 'tampered', now() - interval '1 hour' + g * interval '1 millisecond',
                        '\\x00'::bytea
                    FROM generate_series(1, \(tampered)) AS g
                """, logger: StoreBackend.logger)
            try await client.query(
                "UPDATE kms_audit_pending SET created_at = now() - interval '10 minutes' WHERE id = \(orphan.id)",
                logger: StoreBackend.logger)

            let log = AdoptionRecorder()
            let sweeper = AuditOrphanSweeper(
                client: client, log: log, age: .seconds(1), interval: .seconds(1), logger: StoreBackend.logger)
            #expect(try await sweeper.sweepOnce() == 1)
            #expect(log.adopted == [orphan.id])
            // Left in the outbox: reported, not chained, not deleted.
            let left = try await client.query(
                "SELECT count(*)::int FROM kms_audit_pending WHERE chain_id = 'tampered'", logger: StoreBackend.logger)
            for try await count in left.decode(Int.self) { #expect(count == tampered) }
        }
    }
}

/// A log that only notes which outbox records it was handed.
private final class AdoptionRecorder: AuditWriting {
    let chain = "survivor"
    private let records = Mutex<[UUID]>([])
    var adopted: [UUID] { self.records.withLock { $0 } }
    func admit() throws(KMSError) {}
    func append(_ entry: AuditEntry, pending: PendingAudit?) async throws {}
    func settle() async {}
    func adopt(_ records: [PendingAudit]) { self.records.withLock { $0 += records.map(\.id) } }
    func close() async {}
}
