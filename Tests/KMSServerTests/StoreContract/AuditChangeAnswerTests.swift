import Foundation
import KMSDomain
import KMSStore
import KMSTestSupport
import PostgresNIO
import Testing

@testable import KMSServer

/// A change's record is committed with the change, so the change is answered before the record is
/// chained (one commit, not two); readers of the log settle first, and a writer a whole batch
/// behind makes changes wait again. The writer is held back by a lock on its chain's head row.
@Suite struct AuditChangeAnswerTests {
    static func entry(_ operation: String, at offset: TimeInterval) -> AuditEntry {
        AuditContractTests.entry(operation, key: AuditContractTests.keyA, at: offset)
    }

    /// A change's record, committed in the outbox as a change commits it.
    static func committedChange(_ stores: ServiceStores, at offset: TimeInterval) async throws -> PendingAudit {
        let change = PendingAudit(chain: "default", entry: Self.entry("CreateKey", at: offset))
        try await stores.keys.insert(Fixture.key(), material: nil, alias: nil, tags: [], audit: change)
        #expect(change.committed)
        return change
    }

    static func outbox(_ client: PostgresClient) async throws -> [UUID] {
        var ids: [UUID] = []
        let rows = try await client.query("SELECT id FROM kms_audit_pending", logger: StoreBackend.logger)
        for try await id in rows.decode(UUID.self) { ids.append(id) }
        return ids
    }

    /// The chain's records as stored, in order.
    static func entries(_ client: PostgresClient) async throws -> [AuditEntry] {
        let reader = AuditStore(client: client, logger: StoreBackend.logger)
        var seen: [AuditEntry] = []
        _ = try await reader.scan(
            AuditStore.Filter(), after: .start, operations: nil, maxSegments: .max, deadline: nil
        ) {
            seen += $0.map(\.record.entry)
            return true
        }
        return seen
    }

    static func operations(_ client: PostgresClient) async throws -> [String] {
        try await Self.entries(client).map(\.operation)
    }

    /// A fresh database's stores and a log on it whose chain has one record already (its head
    /// row exists, to be held), closed after `body`; a request waits `timeout` for its record.
    static func withLog(
        timeout: Duration = .seconds(30),
        _ body: @escaping @Sendable (PostgresClient, ServiceStores, AuditLog) async throws -> Void
    ) async throws {
        let worker = InProcessCryptoBackend()
        defer { Task { await worker.shutdown() } }
        // The writer's connection, the one holding the head row, and the test's reads.
        try await StoreBackend.withPostgres(maximumConnections: 4) { client, stores in
            let log = AuditLog(
                store: AuditStore(client: client, logger: StoreBackend.logger), chain: "default",
                timeout: timeout, worker: worker, checkpointInterval: .zero, logger: StoreBackend.logger)
            try await log.append(Self.entry("Encrypt", at: 0), pending: nil)
            try await body(client, stores, log)
            await log.close()
        }
    }

    /// Waits until the writer has taken `count` records to write (and is held writing them).
    static func untilWriting(_ log: AuditLog, count: Int) async throws {
        while log.state.withLock({ $0.writing.count < count }) { try await Task.sleep(for: .milliseconds(1)) }
    }

    /// The chain's head row, held by another session: the writer's append waits for it.
    static let headRow = "SELECT 1 FROM kms_audit_chains WHERE chain_id = 'default' FOR UPDATE"

    @Test func aChangeIsAnsweredBeforeItsRecordIsChainedAndAReaderSettlesFirst() async throws {
        try await Self.withLog { client, stores, log in
            let change = try await Self.committedChange(stores, at: 1)
            let lock = try await HeldLock.take(client, Self.headRow)
            try await log.append(change.entry, pending: change)
            // Answered, and still in the outbox: the writer waits for the head row.
            try await Self.untilWriting(log, count: 1)
            #expect(try await Self.outbox(client) == [change.id])
            #expect(try await Self.operations(client) == ["Encrypt"])
            // A reader waits for it.
            let settled = Task {
                await log.settle()
                return ContinuousClock.now
            }
            try await Task.sleep(for: .milliseconds(100))
            let released = ContinuousClock.now
            try await lock.release()
            #expect(await settled.value >= released)
            #expect(try await Self.outbox(client).isEmpty)
            #expect(try await Self.operations(client) == ["Encrypt", "CreateKey"])
        }
    }

    @Test func aWriterAWholeBatchBehindMakesChangesWaitForTheirRecords() async throws {
        try await Self.withLog { client, stores, log in
            let first = try await Self.committedChange(stores, at: 1)
            let last = try await Self.committedChange(stores, at: 2)
            let lock = try await HeldLock.take(client, Self.headRow)
            // A change the writer is held writing, then a batch's worth more answered at once
            // (records not in the outbox: the writer finds them chained elsewhere and lets them go).
            try await log.append(first.entry, pending: first)
            try await Self.untilWriting(log, count: 1)
            for index in 1..<AuditLog.maximumBatch {
                let queued = PendingAudit(chain: "default", entry: Self.entry("TagResource", at: Double(index)))
                queued.markCommitted()
                try await log.append(queued.entry, pending: queued)
            }
            // The next change is answered only once the writer gets through.
            let answered = Task {
                try await log.append(last.entry, pending: last)
                return ContinuousClock.now
            }
            try await Task.sleep(for: .milliseconds(100))
            let released = ContinuousClock.now
            try await lock.release()
            #expect(try await answered.value >= released)
            await log.settle()
            #expect(try await Self.outbox(client).isEmpty)
            #expect(try await Self.operations(client) == ["Encrypt", "CreateKey", "CreateKey"])
        }
    }
}
