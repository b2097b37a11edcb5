import PostgresNIO

extension Migrations {
    /// The audit append (Migration16AuditAppendCommits) looks up the outbox rows it chains by
    /// their primary key, whatever the outbox's size when its session planned the lookup, and
    /// not at all when it chains none.
    ///
    /// PL/pgSQL keeps a statement's plan for the session's life, and a plan made while
    /// kms_audit_pending was a page or two scans it whole. Under CreateKey the outbox takes a
    /// row per key and loses it at the next append, so its file grows by dead rows between
    /// autovacuum rounds (2,700 pages within 40 s at 2,500 keys a second here), and every append,
    /// even of crypto records that chain no outbox row, scanned all of it: CreateKey fell from
    /// 2,650 to 1,600-2,200 a second over eight 5-second runs, with half of PostgreSQL's CPU in
    /// those scans. Same parameters and result as before, so a kmsd of before calls it unchanged.
    static let auditAppendPendingByIndex = Migration(
        version: 30, name: "the audit append finds the outbox rows it chains by their key",
        statements: [
            """
            CREATE OR REPLACE PROCEDURE kms_audit_append_segment(
                p_last_seq bigint, p_last_hash bytea, p_expected_seq bigint, p_expected_hash bytea,
                p_first_seq bigint, p_earliest_us bigint, p_latest_us bigint, p_key_arns text[],
                p_principal_arns text[], p_operations text[], p_error_codes text[], p_records bytea,
                p_chain text, p_expected_checkpoint bigint, p_checkpoint bigint, p_checkpoint_seq bigint,
                p_checkpoint_mac bytea, p_made_at_us bigint, p_root_key_id uuid, p_pending uuid[],
                INOUT written boolean DEFAULT NULL
            ) LANGUAGE plpgsql AS $$
            BEGIN
                IF cardinality(p_pending) = 0 THEN
                    WITH moved AS (
                        UPDATE kms_audit_chains SET last_seq = p_last_seq, last_hash = p_last_hash,
                            checkpoint_no = p_checkpoint, checkpoint_seq = p_checkpoint_seq,
                            checkpoint_mac = p_checkpoint_mac
                        WHERE chain_id = p_chain AND last_seq = p_expected_seq AND last_hash = p_expected_hash
                            AND checkpoint_no = p_expected_checkpoint
                        RETURNING 1
                    ), checkpointed AS (
                        INSERT INTO kms_audit_checkpoints (chain_id, checkpoint_no, last_seq, last_hash, made_at_us,
                            root_key_id, mac)
                        SELECT p_chain, p_checkpoint, p_last_seq, p_last_hash, p_made_at_us, p_root_key_id,
                            p_checkpoint_mac
                        WHERE p_made_at_us IS NOT NULL AND EXISTS (SELECT 1 FROM moved)
                    )
                    INSERT INTO kms_audit_segments (chain_id, first_seq, last_seq, min_time, max_time, key_arns,
                        principal_arns, operations, error_codes, records)
                    SELECT p_chain, p_first_seq, p_last_seq,
                        'epoch'::timestamptz + p_earliest_us * interval '1 microsecond',
                        'epoch'::timestamptz + p_latest_us * interval '1 microsecond',
                        p_key_arns, p_principal_arns, p_operations, p_error_codes, p_records
                    WHERE EXISTS (SELECT 1 FROM moved);
                ELSE
                    -- Planned, at its first run in the session, with scans of whole tables priced
                    -- out: the index lookups stay right however large the outbox grows. Local to
                    -- the transaction, so reset by the COMMIT below. Not for the branch above:
                    -- there it cost PostgreSQL 140 us of CPU more per append (240 -> 380 us per
                    -- request at 1 in flight), for a statement that never reads the outbox.
                    PERFORM set_config('enable_seqscan', 'off', true);
                    WITH chained AS (
                        SELECT id FROM kms_audit_pending WHERE id = ANY(p_pending) FOR UPDATE
                    ), moved AS (
                        UPDATE kms_audit_chains SET last_seq = p_last_seq, last_hash = p_last_hash,
                            checkpoint_no = p_checkpoint, checkpoint_seq = p_checkpoint_seq,
                            checkpoint_mac = p_checkpoint_mac
                        WHERE chain_id = p_chain AND last_seq = p_expected_seq AND last_hash = p_expected_hash
                            AND checkpoint_no = p_expected_checkpoint
                            AND (SELECT count(*) FROM chained) = cardinality(p_pending)
                        RETURNING 1
                    ), unpended AS (
                        DELETE FROM kms_audit_pending WHERE id IN (SELECT id FROM chained)
                            AND EXISTS (SELECT 1 FROM moved)
                    ), checkpointed AS (
                        INSERT INTO kms_audit_checkpoints (chain_id, checkpoint_no, last_seq, last_hash, made_at_us,
                            root_key_id, mac)
                        SELECT p_chain, p_checkpoint, p_last_seq, p_last_hash, p_made_at_us, p_root_key_id,
                            p_checkpoint_mac
                        WHERE p_made_at_us IS NOT NULL AND EXISTS (SELECT 1 FROM moved)
                    )
                    INSERT INTO kms_audit_segments (chain_id, first_seq, last_seq, min_time, max_time, key_arns,
                        principal_arns, operations, error_codes, records)
                    SELECT p_chain, p_first_seq, p_last_seq,
                        'epoch'::timestamptz + p_earliest_us * interval '1 microsecond',
                        'epoch'::timestamptz + p_latest_us * interval '1 microsecond',
                        p_key_arns, p_principal_arns, p_operations, p_error_codes, p_records
                    WHERE EXISTS (SELECT 1 FROM moved);
                END IF;
                written := FOUND;
                COMMIT;
            END
            $$
            """
        ])
}
