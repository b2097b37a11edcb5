import Foundation
import KMSDomain
import PostgresNIO

extension KeyStore {
    /// A new key's rows (the key, its first material, its tags, the request's audit record and
    /// an AWS managed key's alias) through `kms_insert_key` (Migration28KeyInsertAliases), which
    /// commits before it answers: an answer means durable in one round trip, outside any
    /// transaction; `false` when the alias was taken (nothing was inserted). Prepared once per
    /// pooled connection: as an unnamed statement PostgreSQL parsed and planned the insert on every
    /// CreateKey, 17 % of its CPU under a CreateKey load (perf of its backends). The booleans $24
    /// and $30 say whether a material and a record come along, so that one plan serves every
    /// CreateKey.
    struct InsertKeyCall: PostgresPreparedStatement {
        static let name = "kms_key_insert_call_v2"
        static let bindingDataTypes: [PostgresDataType] = [
            .uuid, .text, .text, .text, .text, .text, .text, .text, .text, .text,
            .timestamptz, .timestamptz, .int8, .text, .bytea, .int8, .int8, .timestamptz, .timestamptz, .text,
            .bytea, .bytea, .uuid, .bool,
            .textArray, .textArray,
            .uuid, .text, .bytea, .bool,
            .text, .text, .text,
        ]
        static let sql = """
            CALL kms_insert_key($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19,
                $20, $21, $22, $23, $24, $25, $26, $27, $28, $29, $30, $31, $32, $33, NULL)
            """
        typealias Row = Bool

        var key: KeyRecord
        var material: StoredMaterial?
        var tags: [(key: String, value: String)]
        var audit: PendingAudit?
        var alias: String?

        func makeBindings() -> PostgresBindings {
            var bindings = PostgresBindings(capacity: 33)
            bindings.append(self.key.keyID.uuid)
            bindings.append(self.key.arn)
            bindings.append(self.key.account)
            bindings.append(self.key.region)
            bindings.append(self.key.description)
            bindings.append(self.key.state.rawValue)
            bindings.append(self.key.usage.rawValue)
            bindings.append(self.key.spec.rawValue)
            bindings.append(self.key.origin.rawValue)
            bindings.append(self.key.manager.rawValue)
            bindings.append(self.key.creationDate)
            bindings.append(self.key.deletionDate)
            bindings.append(self.key.pendingWindowInDays)
            bindings.append(self.key.policy)
            bindings.append(ByteBuffer(bytes: self.key.currentMaterialID.stored))
            bindings.append(self.key.version)
            bindings.append(self.key.rotationPeriodInDays)
            bindings.append(self.key.nextRotationDate)
            bindings.append(self.key.validTo)
            bindings.append(self.key.expirationModel?.rawValue)
            bindings.append(self.material.map { ByteBuffer(bytes: $0.materialID.stored) })
            bindings.append(self.material.map { ByteBuffer(bytes: $0.wrapped) })
            bindings.append(self.material?.rootKeyID)
            bindings.append(self.material != nil)
            bindings.append(self.tags.map(\.key))
            bindings.append(self.tags.map(\.value))
            bindings.append(self.audit?.id)
            bindings.append(self.audit?.chain)
            bindings.append(self.audit.map { AuditOutbox.encode($0.entry) })
            bindings.append(self.audit != nil)
            bindings.append(self.key.customKeyStoreID?.description)
            bindings.append(self.key.xksKeyID)
            bindings.append(self.alias)
            return bindings
        }

        func decodeRow(_ row: PostgresRow) throws -> Bool { try row.decode(Bool.self) }
    }
}
