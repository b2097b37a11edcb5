import Foundation
import KMSDomain
import PostgresNIO

extension KeyStore {
    /// A new key's rows (the key, its first material, its tags, the request's audit record) in
    /// one statement, prepared once per pooled connection: as an unnamed statement PostgreSQL
    /// parsed and planned its five-part CTE on every CreateKey, 17 % of its CPU under a CreateKey
    /// load (perf of its backends). The booleans $24 and $30 say whether a material and a record
    /// come along, so that one plan serves every CreateKey.
    struct InsertKeyStatement: PostgresPreparedStatement {
        static let name = "kms_key_insert_v2"
        static let bindingDataTypes: [PostgresDataType] = [
            .uuid, .text, .text, .text, .text, .text, .text, .text, .text, .text,
            .timestamptz, .timestamptz, .int8, .text, .bytea, .int8, .int8, .timestamptz, .timestamptz, .text,
            .bytea, .bytea, .uuid, .bool,
            .textArray, .textArray,
            .uuid, .text, .bytea, .bool,
            .text, .text,
        ]
        static let sql = """
            WITH k AS (
                INSERT INTO kms_keys (key_id, arn, account_id, region, description, key_state, key_usage, key_spec,
                    origin, key_manager, creation_date, deletion_date, pending_window_days, policy,
                    current_material_id, row_version, rotation_period_days, next_rotation_date, valid_to,
                    expiration_model, custom_key_store_id, xks_key_id)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20,
                    $31, $32)
                RETURNING key_id
            ), m AS (
                INSERT INTO kms_key_materials (key_id, material_id, wrapped, root_key_id, created_at)
                SELECT key_id, $21, $22, $23, now() FROM k WHERE $24
            ), t AS (
                INSERT INTO kms_tags (key_id, tag_key, tag_value)
                SELECT k.key_id, tag.key, tag.value FROM k, unnest($25::text[], $26::text[]) AS tag(key, value)
            ), o AS (
                INSERT INTO kms_audit_pending (id, chain_id, record) SELECT $27, $28, $29 FROM k WHERE $30
            )
            SELECT 1
            """
        typealias Row = Int32

        var key: KeyRecord
        var id: UUID
        var material: StoredMaterial?
        var tags: [(key: String, value: String)]
        var audit: PendingAudit?
        var record: ByteBuffer?

        func makeBindings() -> PostgresBindings {
            var bindings = PostgresBindings(capacity: 32)
            bindings.append(self.id)
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
            bindings.append(self.record)
            bindings.append(self.audit != nil)
            bindings.append(self.key.customKeyStoreID?.description)
            bindings.append(self.key.xksKeyID)
            return bindings
        }

        func decodeRow(_ row: PostgresRow) throws -> Int32 { try row.decode(Int32.self) }
    }

    /// The same rows through `kms_insert_key` (Migration27KeyInsertCommits), which commits
    /// before it answers: an answer means durable in one round trip, outside any transaction.
    struct InsertKeyCall: PostgresPreparedStatement {
        static let name = "kms_key_insert_call_v1"
        static let bindingDataTypes = InsertKeyStatement.bindingDataTypes
        static let sql = """
            CALL kms_insert_key($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19,
                $20, $21, $22, $23, $24, $25, $26, $27, $28, $29, $30, $31, $32, NULL)
            """
        typealias Row = Bool

        var statement: InsertKeyStatement

        func makeBindings() -> PostgresBindings { self.statement.makeBindings() }

        func decodeRow(_ row: PostgresRow) throws -> Bool { try row.decode(Bool.self) }
    }
}
