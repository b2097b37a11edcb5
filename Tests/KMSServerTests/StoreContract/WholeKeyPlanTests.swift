import Foundation
import KMSDomain
import KMSServer
import KMSStore
import KMSTestSupport
import PostgresNIO
import Testing

/// A key cache miss reads each table by its index (Migration32KeyWholeReads) on a session that
/// first read keys while every table was an analyzed page: the function's plan is the session's
/// for its life, so one made with whole-table scans would read every growing table whole on
/// each later miss.
@Suite struct WholeKeyPlanTests {
    static let tables = ["kms_keys", "kms_key_materials", "kms_grants", "kms_aliases", "kms_tags"]

    @Test func keysReadByASessionThatStartedOnSmallTablesAreNotScannedWhole() async throws {
        try await KeyInsertPlanTests.withOneSession { client, keys in
            let grants = GrantStore(client: client, logger: StoreBackend.logger)
            let aliases = AliasStore(client: client, scope: StoreBackend.scope, logger: StoreBackend.logger)
            var small: [KeyID] = []
            for index in 0..<3 {
                let keyID = try await KeyInsertPlanTests.create(keys)
                #expect(try await grants.insert(Fixture.grant("g\(index)", keyID: keyID), audit: nil))
                #expect(
                    try await aliases.create(
                        account: Fixture.account, region: Fixture.region, name: "alias/a\(index)", keyID: keyID,
                        now: Fixture.created, audit: nil))
                small.append(keyID)
            }
            for table in Self.tables {
                try await client.query("ANALYZE \(unescaped: table)", logger: StoreBackend.logger)
            }
            // Eight reads on those pages: a plan the session keeps is generic from its sixth run.
            for index in 0..<8 { #expect(try await keys.fetchWhole(keyID: small[index % 3]) != nil) }

            try await Self.grow(client)
            let before = try await Self.wholeScans(client)
            for index in 0..<8 {
                let whole = try #require(try await keys.fetchWhole(keyID: small[index % 3]))
                #expect(whole.materials == [Fixture.material(1)])
                #expect(whole.grants.map(\.grantID) == ["g\(index % 3)"])
                #expect(whole.aliases == ["alias/a\(index % 3)"])
                #expect(whole.tags.map(\.key) == ["team"])
            }
            #expect(try await Self.wholeScans(client) == before)
        }
    }

    /// Twenty thousand keys more, each with a material, a tag, a grant and an alias, inserted
    /// behind the stores' back.
    static func grow(_ client: PostgresClient) async throws {
        try await KeyInsertPlanTests.grow(client)
        for statement in [
            """
            INSERT INTO kms_key_materials (key_id, material_id, wrapped, root_key_id, created_at)
            SELECT key_id, current_material_id, '\\x00', gen_random_uuid(), now() FROM kms_keys
            WHERE arn LIKE 'arn:filler:%'
            """,
            """
            INSERT INTO kms_tags (key_id, tag_key, tag_value)
            SELECT key_id, 'team', 'b' FROM kms_keys WHERE arn LIKE 'arn:filler:%'
            """,
            """
            INSERT INTO kms_grants (grant_id, key_id, grantee_principal, issuing_account, operations, creation_date)
            SELECT 'fill-' || key_id, key_id, 'arn:aws:iam::111122223333:role/fill', 'arn:aws:iam::111122223333:root',
                ARRAY['Decrypt'], now()
            FROM kms_keys WHERE arn LIKE 'arn:filler:%'
            """,
            """
            INSERT INTO kms_aliases (account_id, region, alias_name, target_key_id, creation_date, last_updated_date)
            SELECT account_id, region, 'alias/fill-' || key_id, key_id, now(), now() FROM kms_keys
            WHERE arn LIKE 'arn:filler:%'
            """,
        ] {
            try await client.query(PostgresQuery(unsafeSQL: statement), logger: StoreBackend.logger)
        }
    }

    /// Whole scans of the five tables so far, together.
    static func wholeScans(_ client: PostgresClient) async throws -> Int64 {
        try await client.withConnection { connection in
            var total: Int64 = 0
            for table in Self.tables { total += try await StoreBackend.wholeScans(of: table, on: connection) }
            return total
        }
    }
}
