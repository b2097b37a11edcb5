import PostgresNIO

extension Migrations {
    /// Each material imported into a key of origin EXTERNAL, with what ListKeyRotations shows of
    /// it (description, expiry, import state, pending rotation). Kept apart from the wrapped
    /// blobs in kms_key_materials, which go when the material is deleted or expires while this
    /// row stays, naming the material that may return. Keys imported into before carry their
    /// current material over.
    static let importedMaterials = Migration(
        version: 17, name: "imported key materials, for rotation of imported material",
        statements: [
            """
            CREATE TABLE kms_imported_materials (
                key_id uuid NOT NULL REFERENCES kms_keys (key_id) ON DELETE CASCADE,
                material_id bytea NOT NULL,
                description text NOT NULL,
                valid_to timestamptz,
                expiration_model text,
                imported boolean NOT NULL,
                pending_rotation boolean NOT NULL,
                imported_at timestamptz NOT NULL,
                PRIMARY KEY (key_id, material_id)
            )
            """,
            "CREATE INDEX kms_imported_materials_by_valid_to ON kms_imported_materials (valid_to)",
            // At most one material waits for rotation per key, whatever two concurrent imports do.
            """
            CREATE UNIQUE INDEX kms_imported_materials_one_pending ON kms_imported_materials (key_id)
                WHERE pending_rotation
            """,
            """
            CREATE TRIGGER kms_imported_materials_changed AFTER INSERT OR UPDATE OR DELETE ON kms_imported_materials
                FOR EACH ROW EXECUTE FUNCTION kms_notify_key_change()
            """,
            """
            INSERT INTO kms_imported_materials (key_id, material_id, description, valid_to, expiration_model,
                imported, pending_rotation, imported_at)
            SELECT key_id, current_material_id, '', valid_to, expiration_model, key_state <> 'PendingImport', false,
                creation_date
            FROM kms_keys WHERE origin = 'EXTERNAL' AND length(current_material_id) > 0
            """,
        ])
}
