import Foundation
import KMSDomain
import KMSServer
import KMSStore
import KMSTestSupport
import PostgresNIO
import Testing

/// A new key's rows find their key in kms_keys by its index (Migration31KeyInsertLookupsByIndex),
/// on a session that first inserted keys while kms_keys was an analyzed page: the foreign-key
/// checks of the materials and tags and the announcement trigger kept, for the session's life,
/// plans that scanned the whole table, so CreateKey slowed as it grew the table.
@Suite struct KeyInsertPlanTests {
    @Test func keysInsertedByASessionThatStartedOnASmallTableDoNotScanItWhole() async throws {
        try await Self.withOneSession { client, keys in
            for _ in 0..<3 { try await Self.create(keys) }
            try await client.query("ANALYZE kms_keys", logger: StoreBackend.logger)
            // Eight inserts on that page: a plan the session keeps is generic from its sixth run.
            for _ in 0..<8 { try await Self.create(keys) }

            try await Self.grow(client)
            let before = try await Self.wholeScans(client)
            let created = try await Self.create(keys, alone: 8, together: 16)
            #expect(try await Self.wholeScans(client) == before)

            for keyID in created {
                let (_, materials) = try #require(try await keys.fetch(keyID: keyID))
                #expect(materials == [Fixture.material(1)])
            }
        }
    }

    /// The same, when the session's first runs of the checks were not CreateKey's: tags put, last
    /// uses flushed, grants and aliases created while kms_keys was small (each a transaction that
    /// prices whole-table scans out first, planKeyLookupsByIndex). The checks' plans are the
    /// session's, whichever statement made them, and CreateKey's rows then use them.
    @Test func checksPlannedByOtherWritesOnASmallTableDoNotScanItWholeLater() async throws {
        try await Self.withOneSession { client, keys in
            let rotations = RotationStore(client: client, logger: StoreBackend.logger)
            let lastUsage = LastUsageStore(client: client, logger: StoreBackend.logger)
            let grants = GrantStore(client: client, logger: StoreBackend.logger)
            let aliases = AliasStore(client: client, scope: StoreBackend.scope, logger: StoreBackend.logger)
            var small: [KeyID] = []
            for _ in 0..<3 { small.append(try await Self.create(keys)) }
            try await client.query("ANALYZE kms_keys", logger: StoreBackend.logger)
            // Eight new tags (an insert each: a tag replaced is an update, which checks nothing)
            // and eight first uses.
            for index in 0..<8 {
                #expect(try await rotations.putTagsWithinLimit(keyID: small[0], [("t\(index)", "v")], audit: nil))
                try await client.query("DELETE FROM kms_key_last_usage", logger: StoreBackend.logger)
                try await lastUsage.record(Self.uses(small))
                #expect(try await grants.insert(Fixture.grant("g\(index)", keyID: small[1]), audit: nil))
                #expect(
                    try await aliases.create(
                        account: Fixture.account, region: Fixture.region, name: "alias/a\(index)", keyID: small[2],
                        now: Fixture.created, audit: nil))
            }

            try await Self.grow(client)
            let before = try await Self.wholeScans(client)
            let created = try await Self.create(keys, alone: 4, together: 8)
            try await lastUsage.record(Self.uses(created))
            #expect(try await rotations.putTagsWithinLimit(keyID: created[0], [("later", "v")], audit: nil))
            #expect(try await grants.insert(Fixture.grant("later", keyID: created[1]), audit: nil))
            #expect(
                try await aliases.create(
                    account: Fixture.account, region: Fixture.region, name: "alias/later", keyID: created[2],
                    now: Fixture.created, audit: nil))
            #expect(try await Self.wholeScans(client) == before)
            #expect(try await lastUsage.lastUse(keyID: created[11])?.operation == "Encrypt")
        }
    }

    /// A fresh database reached through one connection, so that every statement runs in the
    /// session that planned on the small table; its key store sends one batch at a time.
    static func withOneSession(_ body: @escaping @Sendable (PostgresClient, KeyStore) async throws -> Void)
        async throws
    {
        let database = try await TestDatabase.create()
        defer { Task { await database.drop() } }
        try await database.withClient(maximumConnections: 1) { client in
            try await Migrations.apply(on: client, logger: StoreBackend.logger)
            try await body(client, KeyStore(client: client, logger: StoreBackend.logger, insertConcurrency: 1))
        }
    }

    static func uses(_ keys: [KeyID]) -> [KeyID: KeyUsageRecord] {
        Dictionary(
            uniqueKeysWithValues: keys.map {
                ($0, KeyUsageRecord(operation: "Encrypt", date: Fixture.created, requestID: UUID().uuidString))
            })
    }

    /// Twenty thousand keys more, inserted behind the store's back.
    static func grow(_ client: PostgresClient) async throws {
        try await client.query(
            """
            INSERT INTO kms_keys (key_id, arn, account_id, region, key_state, key_usage, key_spec, origin,
                key_manager, creation_date, policy, current_material_id)
            SELECT gen_random_uuid(), 'arn:filler:' || n, account_id, region, key_state, key_usage, key_spec,
                origin, key_manager, creation_date, policy, current_material_id
            FROM (SELECT * FROM kms_keys LIMIT 1) AS k, generate_series(1, 20000) AS n
            """, logger: StoreBackend.logger)
    }

    /// Keys created one after another (kms_insert_key), then at once: the first of those alone,
    /// the others waiting for it and then batched (kms_insert_keys).
    static func create(_ keys: KeyStore, alone: Int, together: Int) async throws -> [KeyID] {
        var created: [KeyID] = []
        for _ in 0..<alone { created.append(try await Self.create(keys)) }
        try await withThrowingTaskGroup(of: KeyID.self) { group in
            for _ in 0..<together { group.addTask { try await Self.create(keys) } }
            for try await keyID in group { created.append(keyID) }
        }
        return created
    }

    /// A key with a material, a tag and a record: a row behind each lookup of kms_keys.
    @discardableResult
    static func create(_ keys: KeyStore) async throws -> KeyID {
        let key = Fixture.key()
        let audit = Fixture.audit("CreateKey")
        try await keys.insert(key, material: Fixture.material(1), alias: nil, tags: [("team", "a")], audit: audit)
        #expect(audit.committed)
        return key.keyID
    }

    /// Scans of the whole of kms_keys so far, the one session's included.
    static func wholeScans(_ client: PostgresClient) async throws -> Int64 {
        try await client.withConnection { try await StoreBackend.wholeScans(of: "kms_keys", on: $0) }
    }
}
