import Foundation
import KMSAuditChain
import KMSDomain
import KMSServer
import KMSStore
import KMSTestSupport
import PostgresNIO
import Testing

/// The audit append finds the outbox rows it chains by their key (Migration30AuditAppendPendingByIndex),
/// on a session that planned that lookup while the outbox was a page: PL/pgSQL keeps the plan for
/// the session's life, and a plan that scanned the whole outbox made every append under a CreateKey
/// load read thousands of pages of dead rows.
@Suite struct AuditAppendPlanTests {
    @Test func anAppendPlannedOnASmallOutboxStillFindsItsRowsByKeyOnceTheOutboxIsLarge() async throws {
        try await StoreBackend.withPostgres { client, stores in
            let audit = AuditStore(client: client, logger: StoreBackend.logger)
            try await client.withConnection { connection in
                var head = try await audit.head(of: "default", on: connection)
                var chained: [UUID] = []
                // Eight appends first: PL/pgSQL's plan of a statement is generic from its sixth run.
                for round in 0..<11 {
                    if round == 8 {
                        // Rows of another chain, left in the outbox: a scan of it would read them all.
                        try await connection.query(
                            """
                            INSERT INTO kms_audit_pending (id, chain_id, record)
                            SELECT gen_random_uuid(), 'elsewhere', '\\x00'::bytea FROM generate_series(1, 20000)
                            """, logger: StoreBackend.logger)
                    }
                    let before = try await StoreBackend.wholeScans(of: "kms_audit_pending", on: connection)
                    let change = Fixture.audit("CreateKey")
                    try await stores.keys.insert(
                        Fixture.key(), material: Fixture.material(1), alias: nil, tags: [], audit: change)
                    let (records, last) = AuditChain.link(
                        [change.entry], chain: "default", after: (head.sequence, head.hash))
                    #expect(try await audit.append(records, expecting: head, pending: [change.id], on: connection))
                    head = AuditStore.Head(sequence: last.sequence, hash: last.hash)
                    chained.append(change.id)
                    #expect(
                        try await StoreBackend.wholeScans(of: "kms_audit_pending", on: connection) == before,
                        "round \(round)")
                }
                // Each append took its row out of the outbox.
                let left = try await AuditOutbox.stillPending(chained, on: connection, logger: StoreBackend.logger)
                #expect(left.isEmpty)
            }
        }
    }
}
