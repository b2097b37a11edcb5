import PostgresNIO

extension Migrations {
    /// The related keys of multi-Region keys. Each related key is an ordinary `kms_keys` row
    /// under its own row id (the public `mrk-` id made regional: see KeyID+MultiRegion.swift),
    /// so every table and query by `key_id` is unchanged; this table pairs the public id with
    /// each region (the unique pair) and says which row is the primary. A key gets its rows here
    /// when it is first replicated: a multi-Region key without any is the primary of a family of
    /// one, which keeps CreateKey's insert as it is.
    static let multiRegionKeys = Migration(
        version: 19, name: "multi-Region keys: the related keys of each public id, and its primary",
        statements: [
            """
            CREATE TABLE kms_multi_region_keys (
                mrk_id uuid NOT NULL,
                region text NOT NULL,
                key_id uuid NOT NULL UNIQUE REFERENCES kms_keys (key_id) ON DELETE CASCADE,
                is_primary boolean NOT NULL,
                PRIMARY KEY (mrk_id, region)
            )
            """,
            "CREATE UNIQUE INDEX kms_multi_region_keys_primary ON kms_multi_region_keys (mrk_id) WHERE is_primary",
            // A related key deleted (the reaper, ON DELETE CASCADE) changes what the others show:
            // their row versions move, so their cached copies go (kms_key_changed).
            """
            CREATE FUNCTION kms_multi_region_key_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                UPDATE kms_keys SET row_version = row_version + 1
                WHERE key_id IN (
                    SELECT key_id FROM kms_multi_region_keys WHERE mrk_id = OLD.mrk_id AND key_id <> OLD.key_id);
                RETURN NULL;
            END $$
            """,
            """
            CREATE TRIGGER kms_multi_region_keys_deleted AFTER DELETE ON kms_multi_region_keys
            FOR EACH ROW EXECUTE FUNCTION kms_multi_region_key_deleted()
            """,
        ])
}
