import PostgresNIO

extension Migrations {
    /// `kms_insert_keys`: the rows of several new keys (`kms_insert_key`'s, one array per column)
    /// in one transaction that commits before it answers. Concurrent CreateKeys share it
    /// (KeyInsertBatches): one round trip, one executor start per table and one commit for the
    /// batch, where each key alone cost PostgreSQL about 0.5 ms of CPU, most of it per call
    /// rather than per row. All or nothing, as the single call is: a row that breaks a constraint
    /// fails the whole CALL, and the batch's keys are then inserted one by one for their own
    /// answers. No alias parameter: a key created with one (AWS managed) takes the single call.
    static let keyInsertBatches = Migration(
        version: 29, name: "new keys inserted in batches by a procedure that commits before it answers",
        statements: [
            """
            CREATE PROCEDURE kms_insert_keys(
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
                INSERT INTO kms_keys (key_id, arn, account_id, region, description, key_state, key_usage, key_spec,
                    origin, key_manager, creation_date, deletion_date, pending_window_days, policy,
                    current_material_id, row_version, rotation_period_days, next_rotation_date, valid_to,
                    expiration_model, custom_key_store_id, xks_key_id)
                SELECT * FROM unnest(p_key_ids, p_arns, p_account_ids, p_regions, p_descriptions, p_key_states,
                    p_key_usages, p_key_specs, p_origins, p_key_managers, p_creation_dates, p_deletion_dates,
                    p_pending_window_days, p_policies, p_current_material_ids, p_row_versions, p_rotation_period_days,
                    p_next_rotation_dates, p_valid_tos, p_expiration_models, p_custom_key_store_ids, p_xks_key_ids);
                INSERT INTO kms_key_materials (key_id, material_id, wrapped, root_key_id, created_at)
                SELECT m.key_id, m.material_id, m.wrapped, m.root_key_id, now()
                FROM unnest(p_material_key_ids, p_material_ids, p_wrapped, p_root_key_ids)
                    AS m (key_id, material_id, wrapped, root_key_id);
                INSERT INTO kms_tags (key_id, tag_key, tag_value)
                SELECT * FROM unnest(p_tag_key_ids, p_tag_keys, p_tag_values);
                INSERT INTO kms_audit_pending (id, chain_id, record)
                SELECT * FROM unnest(p_audit_ids, p_audit_chains, p_audit_records);
                inserted := cardinality(p_key_ids);
                COMMIT;
            END
            $$
            """
        ])
}
