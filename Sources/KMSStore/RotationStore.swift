import Foundation
import KMSDomain
import Logging
import PostgresNIO

/// One rotation of a key, as ListKeyRotations shows it.
public struct RotationRecord: Sendable, Hashable {
    /// Who started the rotation: the schedule or a RotateKeyOnDemand call (the AWS names as raw values).
    public enum Kind: String, Sendable {
        case automatic = "AUTOMATIC"
        case onDemand = "ON_DEMAND"
    }

    /// The material the rotation made current.
    public var materialID: MaterialID
    /// When it became current.
    public var date: Date
    /// Automatic or on demand; a stored value this build does not know reads as automatic.
    public var kind: Kind

    /// A rotation as stored (the stores build these; the in-memory store of the tests too).
    public init(materialID: MaterialID, date: Date, kind: Kind) {
        self.materialID = materialID
        self.date = date
        self.kind = kind
    }
}

/// Key rotations and tags in PostgreSQL.
public struct RotationStore: Sendable {
    let client: PostgresClient
    let logger: Logger

    /// A store over `client`.
    public init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    /// Makes `material` the key's current material, records the rotation and sets the next
    /// automatic date, all at once, if the key is still at `record.version`; nil when it is not.
    public func rotate(
        _ record: KeyRecord, to material: StoredMaterial, kind: RotationRecord.Kind, at date: Date,
        nextRotationDate: Date?,
        audit: PendingAudit?
    ) async throws -> KeyRecord? {
        let id = record.keyID.uuid
        return try await self.client.change(recording: audit, logger: self.logger, effective: { $0 != nil }) {
            connection in
            try await connection.planKeyLookupsByIndex(logger: self.logger)
            let rows = try await connection.query(
                """
                UPDATE kms_keys SET current_material_id = \(material.materialID.stored),
                    next_rotation_date = \(nextRotationDate),
                    row_version = row_version + 1
                WHERE key_id = \(id) AND row_version = \(record.version)
                RETURNING \(unescaped: KeyStore.columns)
                """,
                logger: self.logger
            )
            var updated: KeyRecord?
            for try await row in rows { updated = try KeyStore.decode(row) }
            guard let updated else { return nil }
            try await connection.query(
                """
                INSERT INTO kms_key_materials (key_id, material_id, wrapped, root_key_id, created_at)
                VALUES (\(id), \(material.materialID.stored), \(Data(material.wrapped)), \(material.rootKeyID), \(date))
                """,
                logger: self.logger
            )
            try await connection.query(
                """
                INSERT INTO kms_key_rotations (key_id, material_id, rotation_date, rotation_type)
                VALUES (\(id), \(material.materialID.stored), \(date), \(kind.rawValue))
                """,
                logger: self.logger
            )
            if record.keyID.isMultiRegion {
                try await self.rotateReplicas(of: record, to: material, kind: kind, at: date, on: connection)
            }
            return updated
        }
    }

    /// A multi-Region primary's rotation is every related key's, in the same transaction: the
    /// same material (its wrapped blob copied) becomes each replica's current one, with the
    /// same rotation record (Migration19MultiRegionKeys).
    private func rotateReplicas(
        of record: KeyRecord, to material: StoredMaterial, kind: RotationRecord.Kind, at date: Date,
        on connection: PostgresConnection
    ) async throws {
        try await connection.query(
            """
            WITH r AS (
                SELECT key_id FROM kms_multi_region_keys
                WHERE mrk_id = \(record.keyID.publicID.uuid) AND key_id <> \(record.keyID.uuid)
            ), u AS (
                UPDATE kms_keys SET current_material_id = \(material.materialID.stored), row_version = row_version + 1
                WHERE key_id IN (SELECT key_id FROM r)
            ), m AS (
                INSERT INTO kms_key_materials (key_id, material_id, wrapped, root_key_id, created_at)
                SELECT key_id, \(material.materialID.stored), \(Data(material.wrapped)), \(material.rootKeyID), \(date)
                FROM r
            )
            INSERT INTO kms_key_rotations (key_id, material_id, rotation_date, rotation_type)
            SELECT key_id, \(material.materialID.stored), \(date), \(kind.rawValue) FROM r
            """,
            logger: self.logger)
    }

    /// A page of the key's rotations, oldest first.
    public func rotations(keyID: KeyID, offset: Int, limit: Int) async throws -> [RotationRecord] {
        let id = keyID.uuid
        let rows = try await self.client.query(
            """
            SELECT material_id, rotation_date, rotation_type FROM kms_key_rotations WHERE key_id = \(id)
            ORDER BY rotation_date, material_id OFFSET \(offset) LIMIT \(limit)
            """,
            logger: self.logger
        )
        var rotations: [RotationRecord] = []
        for try await (material, date, kind) in rows.decode((Data, Date, String).self) {
            rotations.append(
                RotationRecord(
                    materialID: try .stored(material, in: "a rotation of key \(id)"), date: date,
                    kind: RotationRecord.Kind(rawValue: kind) ?? .automatic))
        }
        return rotations
    }

    /// How many on-demand rotations the key has had (AWS caps them per key).
    public func onDemandRotationCount(keyID: KeyID) async throws -> Int {
        let id = keyID.uuid
        let rows = try await self.client.query(
            "SELECT count(*)::int FROM kms_key_rotations WHERE key_id = \(id) AND rotation_type = 'ON_DEMAND'",
            logger: self.logger
        )
        for try await count in rows.decode(Int.self) { return count }
        return 0
    }

    /// Enabled keys whose automatic rotation is due, oldest first.
    public func due(now: Date, limit: Int) async throws -> [KeyID] {
        let rows = try await self.client.query(
            """
            SELECT key_id FROM kms_keys
            WHERE next_rotation_date IS NOT NULL AND next_rotation_date <= \(now) AND key_state = 'Enabled'
            ORDER BY next_rotation_date LIMIT \(limit)
            """,
            logger: self.logger
        )
        var keys: [KeyID] = []
        for try await id in rows.decode(UUID.self) { keys.append(KeyID(id)) }
        return keys
    }

    // MARK: Tags

    /// The key's tags, by tag key.
    public func tags(keyID: KeyID) async throws -> [(key: String, value: String)] {
        let id = keyID.uuid
        let rows = try await self.client.query(
            "SELECT tag_key, tag_value FROM kms_tags WHERE key_id = \(id) ORDER BY tag_key", logger: self.logger
        )
        var tags: [(key: String, value: String)] = []
        for try await (key, value) in rows.decode((String, String).self) { tags.append((key, value)) }
        return tags
    }

    /// Adds or replaces tags unless the key would then have more than `Tags.maximumPerKey`;
    /// false (and nothing of the request stored) when it would.
    public func putTagsWithinLimit(keyID: KeyID, _ tags: [(key: String, value: String)], audit: PendingAudit?)
        async throws -> Bool
    {
        let id = keyID.uuid
        do {
            try await self.client.change(recording: audit, logger: self.logger) { connection in
                try await connection.planKeyLookupsByIndex(logger: self.logger)
                try await connection.query(
                    "SELECT 1 FROM kms_keys WHERE key_id = \(id) FOR UPDATE", logger: self.logger)
                for tag in tags {
                    try await connection.query(
                        """
                        INSERT INTO kms_tags (key_id, tag_key, tag_value) VALUES (\(id), \(tag.key), \(tag.value))
                        ON CONFLICT (key_id, tag_key) DO UPDATE SET tag_value = EXCLUDED.tag_value
                        """,
                        logger: self.logger
                    )
                }
                let rows = try await connection.query(
                    "SELECT count(*)::int FROM kms_tags WHERE key_id = \(id)", logger: self.logger)
                var count = 0
                for try await n in rows.decode(Int.self) { count = n }
                // Throwing rolls the transaction back: no tag of this request is kept.
                if count > Tags.maximumPerKey { throw TooManyTags() }
            }
            return true
        } catch let error as PostgresTransactionError where error.closureError is TooManyTags {
            return false
        }
    }

    private struct TooManyTags: Error {}

    /// Removes the tags with these keys (absent ones are ignored), with the audit record.
    public func removeTags(keyID: KeyID, _ keys: [String], audit: PendingAudit?) async throws {
        let id = keyID.uuid
        try await self.client.change(recording: audit, logger: self.logger) { connection in
            _ = try await connection.query(
                "DELETE FROM kms_tags WHERE key_id = \(id) AND tag_key = ANY(\(keys))", logger: self.logger)
        }
    }
}
