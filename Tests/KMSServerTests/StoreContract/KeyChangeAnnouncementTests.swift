import Foundation
import KMSDomain
import KMSServer
import KMSStore
import KMSTestSupport
import PostgresNIO
import Testing

/// Which writes announce a key change (kms_key_changed, which every kmsd's cache listens to):
/// every change to a key that existed, and none for a key created in the same transaction (an
/// announcement serializes commits: CreateKey ran one at a time).
@Suite struct KeyChangeAnnouncementTests {
    @Test func aNewKeyIsNotAnnouncedAndChangesToExistingKeysAre() async throws {
        try await StoreBackend.withPostgres { client, stores in
            try await client.withConnection { listener in
                let announced = try await listener.listen("kms_key_changed")
                var iterator = announced.makeAsyncIterator()

                // Created alone (CreateKey: one statement), and with an alias (a transaction):
                // their material, tags and record rows are announced by neither.
                let alone = Fixture.key()
                let audit = Fixture.audit("CreateKey")
                try await stores.keys.insert(
                    alone, material: Fixture.material(1), alias: nil, tags: [("b", "2"), ("a", "1")], audit: audit)
                #expect(audit.committed)
                let (stored, materials) = try #require(try await stores.keys.fetch(keyID: alone.keyID))
                #expect(stored.keyID == alone.keyID)
                #expect(materials == [Fixture.material(1)])
                #expect(
                    try await stores.rotations.tags(keyID: alone.keyID).map { "\($0.key)=\($0.value)" } == [
                        "a=1", "b=2",
                    ])
                let named = Fixture.key()
                #expect(
                    try await stores.keys.insert(
                        named, material: Fixture.material(2), alias: "alias/named", tags: [("t", "v")], audit: nil))

                // Created together: the first alone, the others batched behind it
                // (kms_insert_keys) as one statement.
                let batching = KeyStore(client: client, logger: StoreBackend.logger, insertConcurrency: 1)
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for index in 0..<6 {
                        group.addTask {
                            try await batching.insert(
                                Fixture.key(), material: Fixture.material(UInt8(3 + index)), alias: nil,
                                tags: [("n", "\(index)")], audit: Fixture.audit("CreateKey"))
                        }
                    }
                    try await group.waitForAll()
                }

                // A tag put on the existing key is announced, and it is the first announcement; an
                // alias made for it is announced as a change of it too.
                try await stores.rotations.putTagsWithinLimit(keyID: alone.keyID, [("c", "3")], audit: nil)
                let first = try #require(try await iterator.next())
                #expect(first.payload == alone.keyID.description)
                _ = try await stores.aliases.create(
                    account: Fixture.account, region: Fixture.region, name: "alias/later", keyID: named.keyID,
                    now: Fixture.created, audit: nil)
                let second = try #require(try await iterator.next())
                #expect(second.payload == named.keyID.description)
            }
        }
    }
}
