import Foundation
import KMSDomain
import KMSServer
import KMSStore
import KMSTestSupport
import PostgresNIO
import Testing

/// Changes made as one statement with their audit records (`changeInOneStatement`: aliases,
/// grants, a key's row): the record is in the outbox exactly when the change took effect, and a
/// change that fails leaves neither.
@Suite struct OneStatementChangeTests {
    static let (account, region) = (Fixture.account, Fixture.region)

    @Test func aChangeAndItsRecordCommitTogetherOrNotAtAll() async throws {
        try await StoreBackend.withPostgres { client, stores in
            let key = Fixture.key()
            try await stores.keys.insert(key, material: nil, alias: nil, tags: [], audit: nil)
            var expected: [PendingAudit] = []

            // Aliases: made, taken, moved, to no key at all, deleted, deleted again.
            let made = Fixture.audit("CreateAlias")
            #expect(try await self.alias("alias/app", to: key.keyID, stores, made))
            expected.append(made)
            let taken = Fixture.audit("CreateAlias")
            #expect(!(try await self.alias("alias/app", to: key.keyID, stores, taken)))
            let moved = Fixture.audit("UpdateAlias")
            #expect(
                try await stores.aliases.update(
                    account: Self.account, region: Self.region, name: "alias/app", keyID: key.keyID,
                    now: Fixture.created, audit: moved))
            expected.append(moved)
            let nowhere = Fixture.audit("CreateAlias")
            await #expect(throws: PostgresTransactionError.self) {
                try await self.alias("alias/none", to: Fixture.newID(), stores, nowhere)
            }
            let repointed = Fixture.audit("UpdateAlias")
            await #expect(throws: PostgresTransactionError.self) {
                try await stores.aliases.update(
                    account: Self.account, region: Self.region, name: "alias/app", keyID: Fixture.newID(),
                    now: Fixture.created, audit: repointed)
            }
            let kept = try await stores.aliases.find(account: Self.account, region: Self.region, name: "alias/app")
            #expect(kept?.targetKeyID == key.keyID)
            let deleted = Fixture.audit("DeleteAlias")
            #expect(
                try await stores.aliases.delete(
                    account: Self.account, region: Self.region, name: "alias/app", audit: deleted))
            expected.append(deleted)
            let again = Fixture.audit("DeleteAlias")
            #expect(
                !(try await stores.aliases.delete(
                    account: Self.account, region: Self.region, name: "alias/app", audit: again)))

            // Grants: made, for no key at all, retired, retired again.
            let granted = Fixture.audit("CreateGrant")
            #expect(try await stores.grants.insert(Fixture.grant("g1", keyID: key.keyID), audit: granted))
            expected.append(granted)
            let orphan = Fixture.audit("CreateGrant")
            await #expect(throws: PostgresTransactionError.self) {
                try await stores.grants.insert(Fixture.grant("g2", keyID: Fixture.newID()), audit: orphan)
            }
            let retired = Fixture.audit("RetireGrant")
            #expect(try await stores.grants.delete(grantID: "g1", audit: retired))
            expected.append(retired)
            #expect(!(try await stores.grants.delete(grantID: "g1", audit: Fixture.audit("RetireGrant"))))

            // A key's row: at its version, then at the version it no longer has.
            var described = key
            described.description = "described"
            let updated = Fixture.audit("UpdateKeyDescription")
            let stored = try #require(try await stores.keys.update(described, audit: updated))
            #expect(stored.description == "described" && stored.version == key.version + 1)
            expected.append(updated)
            let stale = Fixture.audit("UpdateKeyDescription")
            #expect(try await stores.keys.update(described, audit: stale) == nil)

            #expect(expected.allSatisfy { $0.committed })
            for refused in [taken, nowhere, repointed, again, orphan, stale] { #expect(!refused.committed) }
            let pending = try await AuditOutbox.pending(of: "default", client: client, logger: StoreBackend.logger)
            #expect(pending.unreadable.isEmpty)
            #expect(Set(pending.records.map(\.id)) == Set(expected.map(\.id)))
            #expect(
                pending.records.sorted { $0.id.uuidString < $1.id.uuidString }.map(\.entry.operation)
                    == expected.sorted { $0.id.uuidString < $1.id.uuidString }.map(\.entry.operation))
        }
    }

    /// A change returns once committed: a deferred trigger that takes a second at the commit of
    /// an alias's insert holds that commit, and by the time the change returns the alias and its
    /// record are seen from another session. (The protocol lets PostgreSQL answer a lone
    /// statement before its implicit commit; in practice it holds the answer in its output
    /// buffer until the commit is done, so this passes with one too, and the change is not
    /// left to that.)
    @Test func aChangeReturnsOnceCommitted() async throws {
        let logger = StoreBackend.logger
        let database = try await TestDatabase.create()
        defer { Task { await database.drop() } }
        try await database.withClient(maximumConnections: 1) { client in
            try await Migrations.apply(on: client, logger: logger)
            try await client.query(
                """
                CREATE FUNCTION test_slow_commit() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN PERFORM pg_sleep(1); RETURN NULL; END $$
                """, logger: logger)
            try await client.query(
                """
                CREATE CONSTRAINT TRIGGER test_slow_commit AFTER INSERT ON kms_aliases
                    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION test_slow_commit()
                """, logger: logger)
            let stores = ServiceStores.postgres(client: client, scope: StoreBackend.scope, logger: logger)
            let key = Fixture.key()
            try await stores.keys.insert(key, material: nil, alias: nil, tags: [], audit: nil)
            let audit = Fixture.audit("CreateAlias")
            #expect(try await self.alias("alias/slow", to: key.keyID, stores, audit))
            #expect(audit.committed)
            try await database.withClient { other in
                let aliases = AliasStore(client: other, scope: StoreBackend.scope, logger: logger)
                let seen = try await aliases.find(account: Self.account, region: Self.region, name: "alias/slow")
                #expect(seen?.targetKeyID == key.keyID)
                let pending = try await AuditOutbox.pending(of: "default", client: other, logger: logger)
                #expect(pending.records.map(\.id) == [audit.id])
            }
        }
    }

    func alias(_ name: String, to keyID: KeyID, _ stores: ServiceStores, _ audit: PendingAudit) async throws -> Bool {
        try await stores.aliases.create(
            account: Self.account, region: Self.region, name: name, keyID: keyID, now: Fixture.created, audit: audit)
    }
}
