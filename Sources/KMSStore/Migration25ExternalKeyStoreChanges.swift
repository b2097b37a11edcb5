import PostgresNIO

extension Migrations {
    /// Changes to custom key stores are announced on `kms_custom_key_store_changed` (the store's
    /// id), so that every kmsd drops its cached proxy client of the store at once (XKSClientCache);
    /// a new store is not announced, since no kmsd can hold a copy of it. And one external key
    /// backs at most one KMS key of a store, as at AWS (XksKeyAlreadyInUseException): CreateKey's
    /// query alone let two concurrent CreateKeys both pass. A key pending deletion keeps its row,
    /// and so its external key, until the DeletionReaper deletes the row. A database where such
    /// a race already linked one external key twice fails this migration, naming the pair: one
    /// of the two keys must be scheduled for deletion and reaped first.
    static let externalKeyStoreChanges = Migration(
        version: 25, name: "custom key store change announcements; one KMS key per external key",
        statements: [
            """
            CREATE FUNCTION kms_notify_custom_key_store_change() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                PERFORM pg_notify('kms_custom_key_store_changed',
                    COALESCE(NEW.custom_key_store_id, OLD.custom_key_store_id));
                RETURN NULL;
            END $$
            """,
            """
            CREATE TRIGGER kms_custom_key_stores_notify AFTER UPDATE OR DELETE ON kms_custom_key_stores
                FOR EACH ROW EXECUTE FUNCTION kms_notify_custom_key_store_change()
            """,
            """
            CREATE UNIQUE INDEX kms_keys_xks_key ON kms_keys (custom_key_store_id, xks_key_id)
            WHERE xks_key_id IS NOT NULL
            """,
        ])
}
