import Foundation
import KMSDomain
import PostgresNIO

extension KeyStore {
    /// Several new keys' rows through `kms_insert_keys` (Migration29KeyInsertBatches): the
    /// columns of `InsertKeyCall`, one array each, the tags, materials and records flattened
    /// with the key id they belong to. Keys with an alias never come here.
    struct InsertKeysCall: PostgresPreparedStatement {
        static let name = "kms_keys_insert_batch_v1"
        static let bindingDataTypes: [PostgresDataType] = [
            .uuidArray, .textArray, .textArray, .textArray, .textArray, .textArray, .textArray, .textArray,
            .textArray, .textArray, .timestamptzArray, .timestamptzArray, .int8Array, .textArray, .byteaArray,
            .int8Array, .int8Array, .timestamptzArray, .timestamptzArray, .textArray, .textArray, .textArray,
            .uuidArray, .byteaArray, .byteaArray, .uuidArray,
            .uuidArray, .textArray, .textArray,
            .uuidArray, .textArray, .byteaArray,
        ]
        static let sql = """
            CALL kms_insert_keys($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18,
                $19, $20, $21, $22, $23, $24, $25, $26, $27, $28, $29, $30, $31, $32, NULL)
            """
        typealias Row = Int64

        var inserts: [InsertKeyCall]

        func makeBindings() -> PostgresBindings {
            let keys = self.inserts.map(\.key)
            var bindings = PostgresBindings(capacity: 32)
            bindings.append(keys.map(\.keyID.uuid))
            bindings.append(keys.map(\.arn))
            bindings.append(keys.map(\.account))
            bindings.append(keys.map(\.region))
            bindings.append(keys.map(\.description))
            bindings.append(keys.map(\.state.rawValue))
            bindings.append(keys.map(\.usage.rawValue))
            bindings.append(keys.map(\.spec.rawValue))
            bindings.append(keys.map(\.origin.rawValue))
            bindings.append(keys.map(\.manager.rawValue))
            bindings.append(keys.map(\.creationDate))
            bindings.append(NullableArray(keys.map(\.deletionDate)))
            bindings.append(NullableArray(keys.map { $0.pendingWindowInDays.map(Int64.init) }))
            bindings.append(keys.map(\.policy))
            bindings.append(keys.map { ByteBuffer(bytes: $0.currentMaterialID.stored) })
            bindings.append(keys.map(\.version))
            bindings.append(NullableArray(keys.map { $0.rotationPeriodInDays.map(Int64.init) }))
            bindings.append(NullableArray(keys.map(\.nextRotationDate)))
            bindings.append(NullableArray(keys.map(\.validTo)))
            bindings.append(NullableArray(keys.map { $0.expirationModel?.rawValue }))
            bindings.append(NullableArray(keys.map { $0.customKeyStoreID?.description }))
            bindings.append(NullableArray(keys.map(\.xksKeyID)))
            let materials = self.inserts.compactMap { insert in insert.material.map { (insert.key.keyID, $0) } }
            bindings.append(materials.map(\.0.uuid))
            bindings.append(materials.map { ByteBuffer(bytes: $0.1.materialID.stored) })
            bindings.append(materials.map { ByteBuffer(bytes: $0.1.wrapped) })
            bindings.append(NullableArray(materials.map(\.1.rootKeyID)))
            let tags = self.inserts.flatMap { insert in insert.tags.map { (insert.key.keyID, $0.key, $0.value) } }
            bindings.append(tags.map(\.0.uuid))
            bindings.append(tags.map(\.1))
            bindings.append(tags.map(\.2))
            let audits = self.inserts.compactMap(\.audit)
            bindings.append(audits.map(\.id))
            bindings.append(audits.map(\.chain))
            bindings.append(audits.map { AuditOutbox.encode($0.entry) })
            return bindings
        }

        func decodeRow(_ row: PostgresRow) throws -> Int64 { try row.decode(Int64.self) }
    }
}
