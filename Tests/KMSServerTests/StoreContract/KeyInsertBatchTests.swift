import Foundation
import KMSDomain
import KMSServer
import KMSStore
import PostgresNIO
import Testing

/// New keys inserted together (KeyInsertBatches, Migration29KeyInsertBatches): keys that wait
/// while another insert holds the database go in one call, and each caller still gets what it
/// would have got alone. The batches are made deterministic by a store that sends one batch at a
/// time and a lock that holds the first insert until the others wait.
@Suite struct KeyInsertBatchTests {
    @Test func keysThatWaitedGoInOneBatchWithTheirRowsAndRecords() async throws {
        try await StoreBackend.withPostgres { client, stores in
            let keys = KeyStore(client: client, logger: StoreBackend.logger, insertConcurrency: 1)
            // Every column a key can leave NULL set on some keys and not on others, tags on
            // some, a key pending import without material.
            var planned: [(KeyRecord, StoredMaterial?, [(key: String, value: String)], PendingAudit)] = []
            for index in 0..<12 {
                var key = Fixture.key()
                var material: StoredMaterial? = Fixture.material(UInt8(index + 1))
                var tags: [(key: String, value: String)] = []
                switch index % 4 {
                case 1:
                    key.rotationPeriodInDays = 90 + index
                    key.nextRotationDate = Fixture.created.addingTimeInterval(86_400 * Double(index))
                    tags = [("team", "t\(index)"), ("env", "prod")]
                case 2:
                    key.state = .pendingDeletion
                    key.deletionDate = Fixture.created.addingTimeInterval(7 * 86_400)
                    key.pendingWindowInDays = 7
                case 3:
                    key = Fixture.key(state: .pendingImport, origin: .external, material: nil)
                    key.validTo = Fixture.created.addingTimeInterval(30 * 86_400)
                    key.expirationModel = .keyMaterialExpires
                    material = nil
                default:
                    break
                }
                key.description = "key \(index)"
                planned.append((key, material, tags, Fixture.audit("CreateKey")))
            }
            let inserts = planned
            let tasks = try await Self.queuedBehindALockedInsert(client, keys) {
                let tasks = inserts.map { key, material, tags, audit in
                    Task { try await keys.insert(key, material: material, alias: nil, tags: tags, audit: audit) }
                }
                try await Self.waitUntil(keys, waiting: inserts.count)
                return tasks
            }
            for task in tasks { #expect(try await task.value) }
            for (key, material, tags, audit) in inserts {
                #expect(audit.committed)
                let (stored, materials) = try #require(try await keys.fetch(keyID: key.keyID))
                #expect(stored == Self.asStored(key))
                #expect(materials == (material.map { [$0] } ?? []))
                let storedTags = try await stores.rotations.tags(keyID: key.keyID).map { "\($0.key)=\($0.value)" }
                #expect(storedTags == tags.map { "\($0.key)=\($0.value)" }.sorted())
            }
            let ids = inserts.map(\.3.id)
            let outbox = try await client.query(
                "SELECT count(*) FROM kms_audit_pending WHERE id = ANY(\(ids))", logger: StoreBackend.logger)
            for try await count in outbox.decode(Int.self) { #expect(count == inserts.count) }
            #expect(keys.insertsWaiting == 0)
        }
    }

    @Test func aBatchWithARefusedKeyAnswersEachKeyAsItWouldAlone() async throws {
        try await StoreBackend.withPostgres { client, stores in
            let keys = KeyStore(client: client, logger: StoreBackend.logger, insertConcurrency: 1)
            let existing = Fixture.key()
            try await keys.insert(existing, material: Fixture.material(1), alias: nil, tags: [], audit: nil)
            let store = ExternalKeyStoreRowTests.store("batch")
            let keyStores = try #require(stores.customKeyStores)
            #expect(try await keyStores.insert(store, arn: "arn:\(store.id)", rootKeyID: nil, audit: nil) == .written)
            try await keys.insert(
                ExternalKeyStoreRowTests.key(in: store, xksKeyID: "external-1"), material: Fixture.material(2),
                alias: nil, tags: [], audit: nil)

            let good = (0..<4).map { _ in (Fixture.key(), Fixture.audit("CreateKey")) }
            let sameID = (Fixture.key(existing.keyID), Fixture.audit("CreateKey"))
            let sameExternalKey = (
                ExternalKeyStoreRowTests.key(in: store, xksKeyID: "external-1"), Fixture.audit("CreateKey")
            )
            let all = good + [sameID, sameExternalKey]
            let tasks = try await Self.queuedBehindALockedInsert(client, keys) {
                let tasks = all.map { key, audit in
                    Task { () -> String in
                        do {
                            try await keys.insert(
                                key, material: Fixture.material(3), alias: nil, tags: [], audit: audit)
                            return "inserted"
                        } catch is ExternalKeyInUse {
                            return "ExternalKeyInUse"
                        } catch let error as PSQLError {
                            return error.serverInfo?[.sqlState] ?? "\(error)"
                        }
                    }
                }
                try await Self.waitUntil(keys, waiting: all.count)
                return tasks
            }
            var answers: [String] = []
            for task in tasks { answers.append(try await task.value) }
            #expect(answers == ["inserted", "inserted", "inserted", "inserted", "23505", "ExternalKeyInUse"])
            for (key, audit) in good {
                #expect(audit.committed)
                #expect(try await keys.fetch(keyID: key.keyID) != nil)
            }
            #expect(!sameID.1.committed)
            #expect(!sameExternalKey.1.committed)
            #expect(try await keys.fetch(keyID: sameExternalKey.0.keyID) == nil)
            let (stored, _) = try #require(try await keys.fetch(keyID: existing.keyID))
            #expect(stored == Self.asStored(existing))
        }
    }

    @Test func anInsertCancelledWhileItWaitsInsertsNothing() async throws {
        try await StoreBackend.withPostgres { client, _ in
            let keys = KeyStore(client: client, logger: StoreBackend.logger, insertConcurrency: 1)
            let cancelled = Fixture.key()
            let audit = Fixture.audit("CreateKey")
            try await Self.queuedBehindALockedInsert(client, keys) {
                let waiting = Task {
                    try await keys.insert(cancelled, material: Fixture.material(1), alias: nil, tags: [], audit: audit)
                }
                try await Self.waitUntil(keys, waiting: 1)
                waiting.cancel()
                await #expect(throws: CancellationError.self) { try await waiting.value }
                #expect(keys.insertsWaiting == 0)
            }
            #expect(!audit.committed)
            #expect(try await keys.fetch(keyID: cancelled.keyID) == nil)
        }
    }

    @Test func anInsertFromACancelledTaskInsertsNothing() async throws {
        try await StoreBackend.withPostgres { client, _ in
            let keys = KeyStore(client: client, logger: StoreBackend.logger, insertConcurrency: 1)
            let key = Fixture.key()
            let audit = Fixture.audit("CreateKey")
            let cancelled = Task { () async throws -> Bool in
                withUnsafeCurrentTask { task in task?.cancel() }
                return try await keys.insert(key, material: Fixture.material(1), alias: nil, tags: [], audit: audit)
            }
            await #expect(throws: CancellationError.self) { try await cancelled.value }
            #expect(!audit.committed)
            let stored = try await keys.fetch(keyID: key.keyID)
            #expect(stored == nil)
            #expect(keys.insertsWaiting == 0)
        }
    }

    /// Runs `queue` while a first insert is at the database and held there by a lock on
    /// kms_keys (so that, with one batch at a time, what `queue` inserts waits); then releases
    /// the lock and returns what `queue` gave once the first insert has committed.
    @discardableResult
    static func queuedBehindALockedInsert<T: Sendable>(
        _ client: PostgresClient, _ keys: KeyStore, _ queue: @Sendable () async throws -> T
    ) async throws -> T {
        try await client.withConnection { blocker in
            try await blocker.query("BEGIN", logger: StoreBackend.logger)
            try await blocker.query("LOCK TABLE kms_keys IN EXCLUSIVE MODE", logger: StoreBackend.logger)
            let first = Task {
                try await keys.insert(Fixture.key(), material: Fixture.material(99), alias: nil, tags: [], audit: nil)
            }
            try await Self.waitForLockWaiter(blocker)
            #expect(keys.insertsWaiting == 0)
            let result = try await queue()
            try await blocker.query("COMMIT", logger: StoreBackend.logger)
            #expect(try await first.value)
            return result
        }
    }

    /// Until an insert waits for the lock `blocker` holds (pg_locks is read live; the test
    /// database's pool has two connections, both taken).
    static func waitForLockWaiter(_ blocker: PostgresConnection) async throws {
        let waiters = try await settled {
            let rows = try await blocker.query(
                "SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = 'kms_keys'::regclass",
                logger: StoreBackend.logger)
            var count = 0
            for try await value in rows.decode(Int.self) { count = value }
            return count
        } settledWhen: {
            $0 > 0
        }
        #expect(waiters > 0, "the first insert never reached the database")
    }

    static func waitUntil(_ keys: KeyStore, waiting count: Int) async throws {
        let waiting = try await settled({ keys.insertsWaiting }, settledWhen: { $0 == count })
        #expect(waiting == count)
    }

    /// `key` as PostgreSQL gives it back (timestamps in whole microseconds).
    static func asStored(_ key: KeyRecord) -> KeyRecord {
        var stored = key
        stored.creationDate = Fixture.stored(key.creationDate)
        stored.deletionDate = key.deletionDate.map(Fixture.stored)
        stored.nextRotationDate = key.nextRotationDate.map(Fixture.stored)
        stored.validTo = key.validTo.map(Fixture.stored)
        return stored
    }
}
