import Foundation
import KMSDomain
import KMSStore
import KMSTestSupport
import PostgresNIO
import Testing

/// A material id column of the wrong length can only come from outside the service: the stores
/// refuse the row rather than hand on an id no ciphertext can name. PostgreSQL only: the
/// in-memory store holds `MaterialID` values, which cannot have another length.
@Suite struct MaterialIDRowTests {
    @Test func aMaterialIDOfTheWrongLengthIsAStoreError() async throws {
        let database = try await TestDatabase.create()
        defer { Task { await database.drop() } }
        try await database.withClient { client in
            let logger = StoreBackend.logger
            try await Migrations.apply(on: client, logger: logger)
            let keys = KeyStore(client: client, logger: logger)
            let key = Fixture.key()
            let id = key.keyID.uuid
            try await keys.insert(key, material: Fixture.material(1), audit: nil)
            #expect(try await keys.fetch(keyID: key.keyID) != nil)

            try await client.query(
                "UPDATE kms_key_materials SET material_id = \(Data([1])) WHERE key_id = \(id)", logger: logger)
            await #expect(throws: StoreError.self) { try await keys.fetch(keyID: key.keyID) }

            try await client.query(
                """
                UPDATE kms_key_materials SET material_id = \(Data(Fixture.material(1).materialID.bytes))
                WHERE key_id = \(id)
                """,
                logger: logger)
            try await client.query(
                "UPDATE kms_keys SET current_material_id = \(Data([1, 2, 3])) WHERE key_id = \(id)", logger: logger)
            await #expect(throws: StoreError.self) { try await keys.fetch(keyID: key.keyID) }
        }
    }
}
