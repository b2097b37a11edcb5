import Foundation
import KMSAuditChain
import KMSDomain
import KMSServer
import KMSStore
import KMSTestSupport
import Testing

/// What the in-memory audit log does that the contract cannot compare with `AuditLog` without
/// waiting for its writer: adopted records chained at once, a checkpoint left for `close`, a
/// segment edited behind its back.
@Suite struct InMemoryAuditLogTests {
    @Test func adoptedChangesAreChainedOnceAndCloseCheckpointsThem() async throws {
        let database = InMemoryDatabase()
        let worker = InProcessCryptoBackend()
        defer { Task { await worker.shutdown() } }
        let log = InMemoryAuditLog(database: database, worker: worker)
        let created = Fixture.audit("CreateKey")
        try await database.insert(Fixture.key(), material: nil, alias: nil, tags: [], audit: created)
        let granted = Fixture.audit("CreateGrant")
        let grantKey = Fixture.key()
        try await database.insert(grantKey, material: nil, alias: nil, tags: [], audit: nil)
        _ = try await database.insert(Fixture.grant("g1", keyID: grantKey.keyID), audit: granted)
        // Never committed (its change did not take effect): nothing to chain.
        let dropped = Fixture.audit("CreateAlias")
        log.adopt([created, granted, dropped])
        log.adopt([created])
        #expect(database.committedAudits.isEmpty)
        var head = try #require(try await database.chains().first?.head)
        #expect(head.sequence == 2 && head.checkpoint == 0)
        await log.close()
        head = try #require(try await database.chains().first?.head)
        #expect(head.checkpoint == 1 && head.checkpointSequence == 2 && head.uncovered == 0)
        let walked = try #require(try await database.walk(chain: "default", afterSegment: 0, segments: 9))
        #expect(walked.records.map(\.entry.operation) == ["CreateKey", "CreateGrant"])
        #expect(walked.lastSegment == 1)
    }

    @Test func aSegmentEditedIntoBytesThatDoNotReadIsUnreadable() async throws {
        let database = InMemoryDatabase()
        let log = InMemoryAuditLog(database: database)
        try await log.append(Fixture.audit("Encrypt").entry, pending: nil)
        #expect(try database.editAuditRecords(chain: "default", firstSequence: 1) { $0.removeAll() })
        #expect(try !database.editAuditRecords(chain: "default", firstSequence: 2) { _ in })
        await #expect(throws: AuditSegment.Unreadable.self) {
            _ = try await database.walk(chain: "default", afterSegment: 0, segments: 1)
        }
        await #expect(throws: AuditSegment.Unreadable.self) {
            try await database.scan(
                AuditStore.Filter(), after: .start, operations: nil, maxSegments: 1, deadline: nil
            ) { _ in true }
        }
    }
}
