import Foundation
import KMSDomain
import KMSServer
import KMSStore
import KMSTestSupport
import PostgresNIO
import Testing

/// Migration 25 in PostgreSQL: one KMS key per external key of a store (pending deletion ones
/// too, whose rows stay until they are reaped), enforced at the insert (ExternalKeyInUse) and
/// not only by CreateKey's query; and every change to a store, but not its creation, announced
/// on kms_custom_key_store_changed (what drops every kmsd's cached proxy client).
@Suite struct ExternalKeyStoreRowTests {
    static func store(_ name: String) -> CustomKeyStoreRecord {
        CustomKeyStoreRecord(
            id: CustomKeyStoreID.random(), account: Fixture.account, region: Fixture.region, name: name,
            type: .externalKeyStore, connectionState: .disconnected,
            xks: XksProxySettings(
                uriEndpoint: "https://\(name).example.com", uriPath: "/\(name)/kms/xks/v1",
                connectivity: .publicEndpoint, accessKeyID: "ABCDEFGHIJKLMNOPQRST234567", wrappedSecret: [1, 2, 3]),
            creationDate: Fixture.created, version: 1)
    }

    static func key(in store: CustomKeyStoreRecord, xksKeyID: String, state: KeyState = .enabled) -> KeyRecord {
        var key = Fixture.key(state: state, origin: .externalKeyStore)
        key.customKeyStoreID = store.id
        key.xksKeyID = xksKeyID
        return key
    }

    @Test func anExternalKeyBacksOneKeyOfAStoreInAnyState() async throws {
        try await StoreBackend.withPostgres { client, stores in
            let keyStores = try #require(stores.customKeyStores)
            let one = Self.store("one")
            let two = Self.store("two")
            for store in [one, two] {
                let written = try await keyStores.insert(store, arn: "arn:\(store.id)", rootKeyID: nil, audit: nil)
                #expect(written == .written)
            }
            var pending = Self.key(in: one, xksKeyID: "external-1", state: .pendingDeletion)
            pending.deletionDate = Fixture.created
            try await stores.keys.insert(pending, material: Fixture.material(1), alias: nil, tags: [], audit: nil)
            let audit = Fixture.audit("CreateKey")
            await #expect(throws: ExternalKeyInUse.self) {
                try await stores.keys.insert(
                    Self.key(in: one, xksKeyID: "external-1"), material: Fixture.material(2), alias: nil, tags: [],
                    audit: audit)
            }
            #expect(!audit.committed)
            // Another external key of the store, and the same one in another store: fine.
            try await stores.keys.insert(
                Self.key(in: one, xksKeyID: "external-2"), material: Fixture.material(3), alias: nil, tags: [],
                audit: nil)
            try await stores.keys.insert(
                Self.key(in: two, xksKeyID: "external-1"), material: Fixture.material(4), alias: nil, tags: [],
                audit: nil)
            // Keys in no store have no external key, and are not in one another's way.
            try await stores.keys.insert(Fixture.key(), material: Fixture.material(5), alias: nil, tags: [], audit: nil)
            try await stores.keys.insert(Fixture.key(), material: Fixture.material(6), alias: nil, tags: [], audit: nil)
            // Once the reaper deleted the key pending deletion, its external key is free again.
            _ = try await stores.keys.reapDue(serviceNow: Fixture.created.addingTimeInterval(1))
            #expect(try await stores.keys.fetch(keyID: pending.keyID) == nil)
            try await stores.keys.insert(
                Self.key(in: one, xksKeyID: "external-1"), material: Fixture.material(7), alias: nil, tags: [],
                audit: nil)
        }
    }

    @Test func storeChangesAreAnnouncedAndNewStoresAreNot() async throws {
        try await StoreBackend.withPostgres { client, _ in
            let keyStores = CustomKeyStoreStore(client: client, logger: StoreBackend.logger)
            try await client.withConnection { listener in
                let announced = try await listener.listen("kms_custom_key_store_changed")
                var iterator = announced.makeAsyncIterator()
                var store = Self.store("announced")
                let other = Self.store("deleted")
                #expect(try await keyStores.insert(store, arn: "arn:1", rootKeyID: nil, audit: nil) == .written)
                #expect(try await keyStores.insert(other, arn: "arn:2", rootKeyID: nil, audit: nil) == .written)
                store.connectionState = .connected
                #expect(try await keyStores.update(store, rootKeyID: nil, audit: nil) == .written)
                #expect(try await iterator.next()?.payload == store.id.description)
                #expect(try await keyStores.delete(other, audit: nil) == .deleted)
                #expect(try await iterator.next()?.payload == other.id.description)
            }
        }
    }
}
