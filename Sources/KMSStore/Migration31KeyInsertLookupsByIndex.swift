import PostgresNIO

extension Migrations {
    /// A new key's rows find their key in kms_keys by its index, whatever the size of kms_keys
    /// when the session planned the lookups. The insert procedures (Migration28KeyInsertAliases,
    /// Migration29KeyInsertBatches) insert only the rows of keys they create, and now say so to
    /// what their inserts run: the announcement trigger (Migration18QuietKeyCreation) needs no
    /// lookup to know that the key is new, and the foreign-key checks of the materials and tags
    /// plan their lookup of kms_keys with whole-table scans priced out.
    ///
    /// Each session kept both lookups' plans for its life, and a plan made while kms_keys was a
    /// page or two, once it had been analyzed, scans it whole: a fresh service whose first 20 keys
    /// had been analyzed took CreateKey at 421 a second alone and 2,326 then 2,702 at 4 x 16,
    /// 18,000 whole scans of kms_keys in 15 s reading 99 million rows; now 573, 5,041 and 4,942,
    /// with no scan (the table's regenerated benchmark had shown it as 1,005 keys a second at
    /// 4 x 16). Such a plan lasts until autovacuum analyzes kms_keys again, which a table growing
    /// by thousands of keys a second outruns. Without the hazard it costs nothing: PostgreSQL's
    /// CPU per key 129 -> 109 us in batches and 710 -> 683 alone (fresh stacks, three alternated
    /// runs each), the trigger's lookup being gone.
    ///
    /// The checks' plans are the session's whichever statement made them, so every other
    /// transaction that inserts a material or tag prices the scans out too
    /// (`planKeyLookupsByIndex`). Planning every check anew (plan_cache_mode) instead cost
    /// PostgreSQL 30 us more per key in batches (133 -> 163 us, 4,600 -> 3,900 keys a second): a
    /// plan over kms_keys' eight indexes takes about 12 us. The batch's four statements become
    /// one, as the single key's already was, which makes the settings before its checks run. Same
    /// signatures and results, so a kmsd of before calls them unchanged.
    static let keyInsertLookupsByIndex = Migration(
        version: 31, name: "a new key's rows find their key by its index",
        statements: [
            // Called by the procedures' insert statement while it runs: its rows' foreign-key
            // checks and triggers run at its end and see both settings. Both are local to the
            // transaction, so the procedures' COMMIT (or ROLLBACK) resets them.
            """
            CREATE FUNCTION kms_creating_keys() RETURNS void LANGUAGE plpgsql AS $$
            BEGIN
                PERFORM set_config('kms.creating_keys', 'on', true),
                    set_config('enable_seqscan', 'off', true);
            END $$
            """,
            // The lookup stays for the rows other transactions insert (a multi-region replica's
            // key, say, is created by plain statements): those run at an administrator's rate.
            """
            CREATE OR REPLACE FUNCTION kms_key_created_here(p_key_id uuid) RETURNS boolean LANGUAGE plpgsql STABLE AS $$
            BEGIN
                IF current_setting('kms.creating_keys', true) = 'on' THEN
                    RETURN true;
                END IF;
                RETURN EXISTS (
                    SELECT 1 FROM kms_keys WHERE key_id = p_key_id
                        AND xmin::text::bigint = (pg_current_xact_id()::text::bigint & 4294967295)
                );
            END $$
            """,
            """
            CREATE OR REPLACE PROCEDURE kms_insert_key(
                p_key_id uuid, p_arn text, p_account_id text, p_region text, p_description text, p_key_state text,
                p_key_usage text, p_key_spec text, p_origin text, p_key_manager text, p_creation_date timestamptz,
                p_deletion_date timestamptz, p_pending_window_days bigint, p_policy text,
                p_current_material_id bytea, p_row_version bigint, p_rotation_period_days bigint,
                p_next_rotation_date timestamptz, p_valid_to timestamptz, p_expiration_model text,
                p_material_id bytea, p_wrapped bytea, p_root_key_id uuid, p_has_material boolean,
                p_tag_keys text[], p_tag_values text[],
                p_audit_id uuid, p_audit_chain text, p_audit_record bytea, p_has_audit boolean,
                p_custom_key_store_id text, p_xks_key_id text, p_alias_name text,
                INOUT inserted boolean DEFAULT NULL
            ) LANGUAGE plpgsql AS $$
            BEGIN
                WITH creating AS MATERIALIZED (
                    SELECT kms_creating_keys()
                ), k AS (
                    INSERT INTO kms_keys (key_id, arn, account_id, region, description, key_state, key_usage, key_spec,
                        origin, key_manager, creation_date, deletion_date, pending_window_days, policy,
                        current_material_id, row_version, rotation_period_days, next_rotation_date, valid_to,
                        expiration_model, custom_key_store_id, xks_key_id)
                    SELECT p_key_id, p_arn, p_account_id, p_region, p_description, p_key_state, p_key_usage,
                        p_key_spec, p_origin, p_key_manager, p_creation_date, p_deletion_date, p_pending_window_days,
                        p_policy, p_current_material_id, p_row_version, p_rotation_period_days, p_next_rotation_date,
                        p_valid_to, p_expiration_model, p_custom_key_store_id, p_xks_key_id
                    FROM creating
                    RETURNING key_id
                ), m AS (
                    INSERT INTO kms_key_materials (key_id, material_id, wrapped, root_key_id, created_at)
                    SELECT key_id, p_material_id, p_wrapped, p_root_key_id, now() FROM k WHERE p_has_material
                ), t AS (
                    INSERT INTO kms_tags (key_id, tag_key, tag_value)
                    SELECT k.key_id, tag.key, tag.value FROM k, unnest(p_tag_keys, p_tag_values) AS tag(key, value)
                )
                INSERT INTO kms_audit_pending (id, chain_id, record)
                SELECT p_audit_id, p_audit_chain, p_audit_record FROM k WHERE p_has_audit;
                IF p_alias_name IS NOT NULL THEN
                    -- A concurrent insert of the same alias is waited for; then this one is a no-op.
                    INSERT INTO kms_aliases (account_id, region, alias_name, target_key_id, creation_date,
                        last_updated_date)
                    VALUES (p_account_id, p_region, p_alias_name, p_key_id, p_creation_date, p_creation_date)
                    ON CONFLICT DO NOTHING;
                    IF NOT FOUND THEN
                        ROLLBACK;
                        inserted := false;
                        RETURN;
                    END IF;
                END IF;
                inserted := true;
                COMMIT;
            END
            $$
            """,
            """
            CREATE OR REPLACE PROCEDURE kms_insert_keys(
                p_key_ids uuid[], p_arns text[], p_account_ids text[], p_regions text[], p_descriptions text[],
                p_key_states text[], p_key_usages text[], p_key_specs text[], p_origins text[], p_key_managers text[],
                p_creation_dates timestamptz[], p_deletion_dates timestamptz[], p_pending_window_days bigint[],
                p_policies text[], p_current_material_ids bytea[], p_row_versions bigint[],
                p_rotation_period_days bigint[], p_next_rotation_dates timestamptz[], p_valid_tos timestamptz[],
                p_expiration_models text[], p_custom_key_store_ids text[], p_xks_key_ids text[],
                p_material_key_ids uuid[], p_material_ids bytea[], p_wrapped bytea[], p_root_key_ids uuid[],
                p_tag_key_ids uuid[], p_tag_keys text[], p_tag_values text[],
                p_audit_ids uuid[], p_audit_chains text[], p_audit_records bytea[],
                INOUT inserted bigint DEFAULT NULL
            ) LANGUAGE plpgsql AS $$
            BEGIN
                WITH creating AS MATERIALIZED (
                    SELECT kms_creating_keys()
                ), k AS (
                    INSERT INTO kms_keys (key_id, arn, account_id, region, description, key_state, key_usage,
                        key_spec, origin, key_manager, creation_date, deletion_date, pending_window_days, policy,
                        current_material_id, row_version, rotation_period_days, next_rotation_date, valid_to,
                        expiration_model, custom_key_store_id, xks_key_id)
                    SELECT key.* FROM creating, unnest(p_key_ids, p_arns, p_account_ids, p_regions, p_descriptions,
                        p_key_states, p_key_usages, p_key_specs, p_origins, p_key_managers, p_creation_dates,
                        p_deletion_dates, p_pending_window_days, p_policies, p_current_material_ids, p_row_versions,
                        p_rotation_period_days, p_next_rotation_dates, p_valid_tos, p_expiration_models,
                        p_custom_key_store_ids, p_xks_key_ids) AS key
                ), m AS (
                    INSERT INTO kms_key_materials (key_id, material_id, wrapped, root_key_id, created_at)
                    SELECT m.key_id, m.material_id, m.wrapped, m.root_key_id, now()
                    FROM unnest(p_material_key_ids, p_material_ids, p_wrapped, p_root_key_ids)
                        AS m (key_id, material_id, wrapped, root_key_id)
                ), t AS (
                    INSERT INTO kms_tags (key_id, tag_key, tag_value)
                    SELECT * FROM unnest(p_tag_key_ids, p_tag_keys, p_tag_values)
                )
                INSERT INTO kms_audit_pending (id, chain_id, record)
                SELECT * FROM unnest(p_audit_ids, p_audit_chains, p_audit_records);
                inserted := cardinality(p_key_ids);
                COMMIT;
            END
            $$
            """,
        ])
}
