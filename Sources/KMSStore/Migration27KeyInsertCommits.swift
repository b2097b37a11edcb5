import PostgresNIO

extension Migrations {
    /// A new key's rows (the key, its first material, its tags, the request's audit record) in a
    /// procedure that commits before it answers, as the audit log's append does
    /// (Migration16AuditAppendCommits): one round trip per CreateKey where BEGIN, the statement
    /// and COMMIT took three, each a wake of a PostgreSQL backend and of kmsd's connection. No
    /// EXCEPTION block and no SET clause, either of which would forbid the COMMIT. A unique
    /// violation (an ARN or an external key taken) fails the CALL and rolls all of it back, with
    /// the constraint's name in the error. Superseded by Migration28KeyInsertAliases's overload,
    /// which also takes an alias; kept for a kmsd of before during an upgrade.
    static let keyInsertCommits = Migration(
        version: 27, name: "a new key's rows inserted by a procedure that commits before it answers",
        statements: [
            """
            CREATE PROCEDURE kms_insert_key(
                p_key_id uuid, p_arn text, p_account_id text, p_region text, p_description text, p_key_state text,
                p_key_usage text, p_key_spec text, p_origin text, p_key_manager text, p_creation_date timestamptz,
                p_deletion_date timestamptz, p_pending_window_days bigint, p_policy text,
                p_current_material_id bytea, p_row_version bigint, p_rotation_period_days bigint,
                p_next_rotation_date timestamptz, p_valid_to timestamptz, p_expiration_model text,
                p_material_id bytea, p_wrapped bytea, p_root_key_id uuid, p_has_material boolean,
                p_tag_keys text[], p_tag_values text[],
                p_audit_id uuid, p_audit_chain text, p_audit_record bytea, p_has_audit boolean,
                p_custom_key_store_id text, p_xks_key_id text,
                INOUT inserted boolean DEFAULT NULL
            ) LANGUAGE plpgsql AS $$
            BEGIN
                WITH k AS (
                    INSERT INTO kms_keys (key_id, arn, account_id, region, description, key_state, key_usage, key_spec,
                        origin, key_manager, creation_date, deletion_date, pending_window_days, policy,
                        current_material_id, row_version, rotation_period_days, next_rotation_date, valid_to,
                        expiration_model, custom_key_store_id, xks_key_id)
                    VALUES (p_key_id, p_arn, p_account_id, p_region, p_description, p_key_state, p_key_usage,
                        p_key_spec, p_origin, p_key_manager, p_creation_date, p_deletion_date, p_pending_window_days,
                        p_policy, p_current_material_id, p_row_version, p_rotation_period_days, p_next_rotation_date,
                        p_valid_to, p_expiration_model, p_custom_key_store_id, p_xks_key_id)
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
                inserted := true;
                COMMIT;
            END
            $$
            """
        ])
}
