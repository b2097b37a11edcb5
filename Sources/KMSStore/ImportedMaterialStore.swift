import Foundation
import KMSDomain
import PostgresNIO

/// Imported key material (keys of origin EXTERNAL): each material's listing in
/// kms_imported_materials, its wrapped blob in kms_key_materials while it is imported.
extension KeyStore {
    /// The key's imported materials, the first imported first; empty for a key that has none.
    public func importedMaterials(keyID: KeyID) async throws -> [ImportedMaterial] {
        let id = keyID.uuid
        let rows = try await self.client.query(
            """
            SELECT material_id, description, valid_to, expiration_model, imported, pending_rotation, imported_at
            FROM kms_imported_materials WHERE key_id = \(id) ORDER BY imported_at, material_id
            """,
            logger: self.logger
        )
        var materials: [ImportedMaterial] = []
        for try await (material, description, validTo, model, imported, pending, importedAt) in rows.decode(
            (Data, String, Date?, String?, Bool, Bool, Date).self)
        {
            materials.append(
                ImportedMaterial(
                    materialID: try .stored(material, in: "an imported material of key \(id)"),
                    description: description, validTo: validTo, expirationModel: model.flatMap(ExpirationModel.init),
                    isImported: imported, isPendingRotation: pending, importedAt: importedAt))
        }
        return materials
    }

    /// Applies `change` if the key is still at `change.record.version`: the key's state,
    /// current material id, ValidTo and expiration model; the whole list of its imported
    /// materials; `material`'s wrapped blob (replacing the same material's); the blobs of
    /// `change.removed` deleted; and, with `change.rotatedTo`, an on-demand rotation at `date`;
    /// then each of `change.related` (other multi-Region keys) the same way, in one transaction.
    /// Returns the stored record, or nil when someone changed the key, or a related one, first.
    public func changeImportedMaterial(
        _ change: ImportedMaterialChange, adding material: StoredMaterial?, at date: Date, audit: PendingAudit?
    ) async throws -> KeyRecord? {
        do {
            return try await self.client.change(recording: audit, logger: self.logger, effective: { $0 != nil }) {
                connection in
                try await connection.planKeyLookupsByIndex(logger: self.logger)
                guard let stored = try await self.apply(change, adding: material, at: date, on: connection) else {
                    return nil
                }
                // A related multi-Region key's part: all or nothing with the key's own.
                for part in change.related {
                    guard try await self.apply(part, adding: nil, at: date, on: connection) != nil else {
                        throw RelatedKeyChanged()
                    }
                }
                return stored
            }
        } catch is RelatedKeyChanged {
            return nil
        } catch let error as PostgresTransactionError where error.closureError is RelatedKeyChanged {
            return nil
        }
    }

    private struct RelatedKeyChanged: Error {}

    /// One key's part of `changeImportedMaterial`; nil when the key is no longer at its version.
    private func apply(
        _ change: ImportedMaterialChange, adding material: StoredMaterial?, at date: Date,
        on connection: PostgresConnection
    ) async throws -> KeyRecord? {
        let updated = change.record
        let id = updated.keyID.uuid
        let rows = try await connection.query(
            """
            UPDATE kms_keys SET key_state = \(updated.state.rawValue),
                current_material_id = \(updated.currentMaterialID.stored),
                valid_to = \(updated.validTo), expiration_model = \(updated.expirationModel?.rawValue),
                row_version = row_version + 1
            WHERE key_id = \(id) AND row_version = \(updated.version)
            RETURNING \(unescaped: Self.columns)
            """,
            logger: self.logger
        )
        var stored: KeyRecord?
        for try await row in rows { stored = try Self.decode(row) }
        guard let stored else { return nil }
        try await connection.query("DELETE FROM kms_imported_materials WHERE key_id = \(id)", logger: self.logger)
        for entry in change.materials {
            try await connection.query(
                """
                INSERT INTO kms_imported_materials (key_id, material_id, description, valid_to, expiration_model,
                    imported, pending_rotation, imported_at)
                VALUES (\(id), \(entry.materialID.stored), \(entry.description), \(entry.validTo),
                    \(entry.expirationModel?.rawValue), \(entry.isImported), \(entry.isPendingRotation),
                    \(entry.importedAt))
                """,
                logger: self.logger
            )
        }
        for removed in change.removed {
            try await connection.query(
                "DELETE FROM kms_key_materials WHERE key_id = \(id) AND material_id = \(removed.stored)",
                logger: self.logger)
        }
        if let material {
            // Re-importing the same material gives the same id: the new blob replaces the old.
            try await connection.query(
                """
                INSERT INTO kms_key_materials (key_id, material_id, wrapped, root_key_id, created_at)
                VALUES (\(id), \(material.materialID.stored), \(Data(material.wrapped)), \(material.rootKeyID),
                    \(date))
                ON CONFLICT (key_id, material_id) DO UPDATE
                SET wrapped = EXCLUDED.wrapped, root_key_id = EXCLUDED.root_key_id
                """,
                logger: self.logger
            )
        }
        if let rotated = change.rotatedTo {
            try await connection.query(
                """
                INSERT INTO kms_key_rotations (key_id, material_id, rotation_date, rotation_type)
                VALUES (\(id), \(rotated.stored), \(date), 'ON_DEMAND')
                """,
                logger: self.logger
            )
        }
        return stored
    }
}
