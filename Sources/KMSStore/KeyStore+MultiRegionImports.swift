import Foundation
import KMSDomain
import Logging
import PostgresNIO

/// Multi-Region keys across deployments, the receiving side: the exported rows that logical
/// replication brought for the regions served here, and the replicas made of them
/// (Migration21MultiRegionExports). Every row is handled once: `kms_mrk_imports` says it was
/// imported or rejected; the replica's row uses an empty material id there.
extension KeyStore {
    /// Replicas exported to `regions` and not handled yet, oldest first.
    public func pendingReplicaImports(regions: [String], limit: Int) async throws -> [ReplicaExport] {
        let rows = try await self.client.query(
            """
            SELECT e.mrk_id, e.destination_region, e.source_region, e.replica_arn, e.account_id, e.key_usage,
                e.key_spec, e.origin, e.description, e.policy, e.tag_keys, e.tag_values, e.current_material_id
            FROM kms_mrk_replica_exports e
            WHERE e.destination_region = ANY(\(regions)) AND NOT EXISTS (
                SELECT 1 FROM kms_mrk_imports i
                WHERE i.mrk_id = e.mrk_id AND i.destination_region = e.destination_region AND i.material_id = '')
            ORDER BY e.exported_at
            LIMIT \(limit)
            """,
            logger: self.logger)
        var exports: [ReplicaExport] = []
        for try await row in rows {
            let (mrk, destination, source, arn, account, usage, spec, origin, description, policy, keys, values) =
                try row.decode(
                    (UUID, String, String, String, String, String, String, String, String, String, [String], [String])
                        .self)
            let current = try row.makeRandomAccess()["current_material_id"].decode(Data.self)
            guard let usage = KeyUsage(rawValue: usage), let spec = KeySpec(rawValue: spec),
                let origin = Origin(rawValue: origin), keys.count == values.count
            else { throw StoreError.invalid("exported replica \(arn)") }
            exports.append(
                ReplicaExport(
                    mrkID: KeyID(mrk), destinationRegion: destination, sourceRegion: source, replicaARN: arn,
                    account: account, usage: usage, spec: spec, origin: origin, description: description,
                    policy: policy, tags: zip(keys, values).map { ($0, $1) },
                    currentMaterialID: try .stored(current, in: arn))
            )
        }
        return exports
    }

    /// The versions exported to a replica: all of them (`pendingOnly` false), or those not yet
    /// handled of replicas already imported here, oldest first (every family when `family` is nil).
    public func exportedMaterials(family: KeyID?, region: String?, regions: [String], pendingOnly: Bool, limit: Int)
        async throws -> [MaterialExport]
    {
        let family = family?.publicID.uuid
        let rows = try await self.client.query(
            """
            SELECT e.mrk_id, e.destination_region, e.source_region, e.material_id, e.sealed, e.created_at,
                e.rotation_date, e.rotation_type, e.current_material_id, e.with_replica
            FROM kms_mrk_material_exports e
            WHERE e.destination_region = ANY(\(regions))
                AND (\(family)::uuid IS NULL OR e.mrk_id = \(family))
                AND (\(region)::text IS NULL OR e.destination_region = \(region))
                AND (NOT \(pendingOnly) OR (
                    EXISTS (
                        SELECT 1 FROM kms_mrk_imports i WHERE i.mrk_id = e.mrk_id
                            AND i.destination_region = e.destination_region AND i.material_id = ''
                            AND i.outcome = 'imported')
                    AND NOT EXISTS (
                        SELECT 1 FROM kms_mrk_imports i WHERE i.mrk_id = e.mrk_id
                            AND i.destination_region = e.destination_region AND i.material_id = e.material_id)))
            ORDER BY e.exported_at, e.created_at
            LIMIT \(limit)
            """,
            logger: self.logger)
        var exports: [MaterialExport] = []
        for try await row in rows {
            let (mrk, destination, source, material, sealed, created, rotated, type, current, withReplica) =
                try row.decode((UUID, String, String, Data, Data, Date, Date?, String?, Data, Bool).self)
            let name = "exported material of \(KeyID(mrk))"
            exports.append(
                MaterialExport(
                    mrkID: KeyID(mrk), destinationRegion: destination, sourceRegion: source,
                    materialID: try .stored(material, in: name),
                    wrapped: [], sealed: Array(sealed), createdAt: created, rotationDate: rotated, rotationType: type,
                    currentMaterialID: try .stored(current, in: name), withReplica: withReplica, primaryARN: "",
                    spec: .symmetricDefault))
        }
        return exports
    }

    /// Creates the replica `replica` of `export` with its versions (wrapped here, under this
    /// deployment's root key), its tags and its family (itself, and the primary as a remote
    /// member), and marks the export and the versions imported. False when the region already
    /// holds a key of this family (the export is then marked rejected). `audit`, the record of the
    /// replica's creation, commits with it.
    public func importReplica(
        _ replica: KeyRecord, export: ReplicaExport, materials: [(MaterialExport, StoredMaterial)],
        audit: PendingAudit?
    ) async throws -> Bool {
        let family = export.mrkID.publicID.uuid
        let id = replica.keyID.uuid
        let region = export.destinationRegion
        return try await self.client.change(recording: audit, logger: self.logger, effective: { $0 }) { connection in
            try await connection.planKeyLookupsByIndex(logger: self.logger)
            let rows = try await connection.query(
                """
                INSERT INTO kms_keys (key_id, arn, account_id, region, description, key_state, key_usage, key_spec,
                    origin, key_manager, creation_date, policy, current_material_id, row_version)
                VALUES (\(id), \(replica.arn), \(replica.account), \(region), \(replica.description),
                    \(replica.state.rawValue), \(replica.usage.rawValue), \(replica.spec.rawValue),
                    \(replica.origin.rawValue), \(replica.manager.rawValue), \(replica.creationDate), \(replica.policy),
                    \(replica.currentMaterialID.stored), 1)
                ON CONFLICT DO NOTHING RETURNING 1
                """,
                logger: self.logger)
            var inserted = false
            for try await _ in rows { inserted = true }
            guard inserted else {
                try await Self.markImport(
                    family, region, material: nil, rejected: "the region holds this key already", on: connection,
                    logger: self.logger)
                return false
            }
            try await connection.query(
                """
                WITH t AS (
                    INSERT INTO kms_tags (key_id, tag_key, tag_value)
                    SELECT \(id), tag.key, tag.value
                    FROM unnest(\(export.tags.map(\.key))::text[], \(export.tags.map(\.value))::text[])
                        AS tag(key, value)
                ), f AS (
                    INSERT INTO kms_multi_region_keys (mrk_id, region, key_id, is_primary)
                    VALUES (\(family), \(region), \(id), false)
                )
                INSERT INTO kms_mrk_remote_keys (mrk_id, region, is_primary)
                VALUES (\(family), \(export.sourceRegion), true)
                ON CONFLICT (mrk_id, region) DO UPDATE SET is_primary = true
                """,
                logger: self.logger)
            try await Self.markImport(family, region, material: nil, rejected: nil, on: connection, logger: self.logger)
            for (row, stored) in materials {
                try await Self.insertImportedMaterial(row, stored, keyID: id, on: connection, logger: self.logger)
            }
            return true
        }
    }

    /// Adds a version that arrived after the replica (a rotation of the primary) and makes the
    /// primary's current version the replica's.
    public func importMaterial(_ row: MaterialExport, _ stored: StoredMaterial, replicaID: KeyID) async throws {
        try await self.client.committing(logger: self.logger) { connection in
            try await connection.planKeyLookupsByIndex(logger: self.logger)
            try await Self.insertImportedMaterial(
                row, stored, keyID: replicaID.uuid, on: connection, logger: self.logger)
            try await connection.query(
                """
                UPDATE kms_keys SET current_material_id = \(row.currentMaterialID.stored), row_version = row_version + 1
                WHERE key_id = \(replicaID.uuid) AND EXISTS (
                    SELECT 1 FROM kms_key_materials
                    WHERE key_id = \(replicaID.uuid) AND material_id = \(row.currentMaterialID.stored))
                """,
                logger: self.logger)
        }
    }

    /// Marks an exported replica (`material` nil) or version as refused, with why: it is never
    /// tried again, and never becomes a key or a version here.
    public func rejectImport(of mrkID: KeyID, region: String, material: MaterialID?, reason: String) async throws {
        try await self.client.committing(logger: self.logger) { connection in
            try await Self.markImport(
                mrkID.publicID.uuid, region, material: material, rejected: reason, on: connection, logger: self.logger)
        }
    }

    /// How each exported row of `family` to `region` was handled: material id (empty: the
    /// replica) → the reason it was rejected, or nil when it was imported.
    public func importOutcomes(of family: KeyID, region: String) async throws -> [Data: String?] {
        let rows = try await self.client.query(
            """
            SELECT material_id, outcome, reason FROM kms_mrk_imports
            WHERE mrk_id = \(family.publicID.uuid) AND destination_region = \(region)
            """,
            logger: self.logger)
        var outcomes: [Data: String?] = [:]
        for try await (material, outcome, reason) in rows.decode((Data, String, String?).self) {
            outcomes[material] = outcome == "imported" ? String?.none : (reason ?? "rejected")
        }
        return outcomes
    }

    static func insertImportedMaterial(
        _ row: MaterialExport, _ stored: StoredMaterial, keyID: UUID, on connection: PostgresConnection, logger: Logger
    ) async throws {
        try await connection.query(
            """
            WITH m AS (
                INSERT INTO kms_key_materials (key_id, material_id, wrapped, root_key_id, created_at)
                VALUES (\(keyID), \(stored.materialID.stored), \(Data(stored.wrapped)), \(stored.rootKeyID),
                    \(row.createdAt))
                ON CONFLICT DO NOTHING
            )
            INSERT INTO kms_key_rotations (key_id, material_id, rotation_date, rotation_type)
            SELECT \(keyID), \(stored.materialID.stored), \(row.rotationDate), \(row.rotationType)
            WHERE \(row.rotationDate)::timestamptz IS NOT NULL
            ON CONFLICT DO NOTHING
            """,
            logger: logger)
        try await Self.markImport(
            row.mrkID.publicID.uuid, row.destinationRegion, material: row.materialID, rejected: nil, on: connection,
            logger: logger)
    }

    static func markImport(
        _ family: UUID, _ region: String, material: MaterialID?, rejected reason: String?,
        on connection: PostgresConnection, logger: Logger
    ) async throws {
        try await connection.query(
            """
            INSERT INTO kms_mrk_imports (mrk_id, destination_region, material_id, outcome, reason)
            VALUES (\(family), \(region), \(material?.stored ?? Data()), \(reason == nil ? "imported" : "rejected"),
                \(reason))
            ON CONFLICT DO NOTHING
            """,
            logger: logger)
    }
}
