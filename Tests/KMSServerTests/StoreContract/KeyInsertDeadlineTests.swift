import Foundation
import KMSDomain
import KMSRPC
import KMSServer
import KMSStore
import KMSTestSupport
import PostgresNIO
import Testing

/// A CreateKey whose database call passed its deadline while PostgreSQL held it: the procedure
/// commits when PostgreSQL gets to it (Migration28KeyInsertAliases), so the store must still hear
/// its answer and mark the record committed with the key, which runs the request's late handler
/// (it chains the record). Abandoned at the cancellation, the key existed with its creation's
/// record left in the outbox (found as FaultTests' "2 keys but 1 recorded creations").
@Suite struct KeyInsertDeadlineTests {
    @Test func anInsertPastItsDeadlineStillReportsItsCommit() async throws {
        try await StoreBackend.withPostgres { client, stores in
            let key = Fixture.key()
            let audit = Fixture.audit("CreateKey")
            let chained = AsyncStream<Void>.makeStream()
            #expect(audit.whenCommittedLate { _ in chained.continuation.yield() })
            try await client.withConnection { blocker in
                // The CALL's INSERT waits for this lock, as it would for a stalled PostgreSQL.
                try await blocker.query("BEGIN", logger: StoreBackend.logger)
                try await blocker.query("LOCK TABLE kms_keys IN EXCLUSIVE MODE", logger: StoreBackend.logger)
                await #expect(throws: DeadlineExceeded.self) {
                    try await KMSRPC.withDeadline(.milliseconds(300)) {
                        try await stores.keys.insert(
                            key, material: Fixture.material(1), alias: nil, tags: [], audit: audit)
                    }
                }
                #expect(!audit.committed)
                try await blocker.query("COMMIT", logger: StoreBackend.logger)
            }
            // Bounded: a hang fails here rather than holding the run.
            let heard = try await KMSRPC.withDeadline(.seconds(30)) {
                for await _ in chained.stream { return true }
                return false
            }
            #expect(heard)
            #expect(audit.committed)
            #expect(try await stores.keys.fetch(keyID: key.keyID) != nil)
        }
    }
}
