import Foundation
import KMSDomain
import PostgresNIO

/// Imported key material (keys of origin EXTERNAL): stored, replaced by the same material,
/// deleted by the caller or by expiry.
extension KeyStore {
    /// Stores imported material as the key's only version and applies `updated` (state,
    /// ValidTo, expiration model, current material id) if the row is still at
    /// `updated.version`. Returns the stored record, or nil when someone changed the key first.
    public func importMaterial(_ updated: KeyRecord, material: StoredMaterial, audit: PendingAudit?) async throws
        -> KeyRecord?
    {
        let id = updated.keyID.uuid
        return try await self.client.change(recording: audit, logger: self.logger, effective: { $0 != nil }) {
            connection in
            let rows = try await connection.query(
                """
                UPDATE kms_keys SET key_state = \(updated.state.rawValue),
                    current_material_id = \(material.materialID.stored),
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
            // Re-importing the same material gives the same id: the new blob replaces the old.
            try await connection.query("DELETE FROM kms_key_materials WHERE key_id = \(id)", logger: self.logger)
            try await connection.query(
                """
                INSERT INTO kms_key_materials (key_id, material_id, wrapped, root_key_id, created_at)
                VALUES (\(id), \(material.materialID.stored), \(Data(material.wrapped)), \(material.rootKeyID), now())
                """,
                logger: self.logger
            )
            return stored
        }
    }

    /// Deletes a key's imported material: the key goes to PendingImport (a key pending deletion
    /// stays so). The current material id stays, naming the only material that may be imported
    /// again. Returns the stored record, or nil when someone changed the key first.
    public func deleteImportedMaterial(_ record: KeyRecord, audit: PendingAudit?) async throws -> KeyRecord? {
        let id = record.keyID.uuid
        let state: KeyState = record.state == .pendingDeletion ? .pendingDeletion : .pendingImport
        return try await self.client.change(recording: audit, logger: self.logger, effective: { $0 != nil }) {
            connection in
            let rows = try await connection.query(
                """
                UPDATE kms_keys SET key_state = \(state.rawValue),
                    valid_to = NULL, expiration_model = NULL, row_version = row_version + 1
                WHERE key_id = \(id) AND row_version = \(record.version)
                RETURNING \(unescaped: Self.columns)
                """,
                logger: self.logger
            )
            var stored: KeyRecord?
            for try await row in rows { stored = try Self.decode(row) }
            guard stored != nil else { return nil }
            try await connection.query("DELETE FROM kms_key_materials WHERE key_id = \(id)", logger: self.logger)
            return stored
        }
    }
}
