import PostgresNIO

extension Migrations {
    /// The audit log's append as a procedure that commits before it answers. A lone statement
    /// is answered (CommandComplete) before PostgreSQL commits it, and postgres-nio takes that
    /// answer as success (CommittedWrite); BEGIN and COMMIT around it would cost the group
    /// commit two more round trips per batch. A procedure called outside a transaction block
    /// may COMMIT, and its CALL is answered after that commit: one round trip, and an answer
    /// that means durable. No SET clause and no EXCEPTION block: either would forbid the COMMIT.
    static let auditAppendCommits = Migration(
        version: 16, name: "audit segments appended by a procedure that commits before it answers",
        statements: [
            """
            CREATE PROCEDURE kms_audit_append_segment(
                p_last_seq bigint, p_last_hash bytea, p_expected_seq bigint, p_expected_hash bytea,
                p_first_seq bigint, p_earliest_us bigint, p_latest_us bigint, p_key_arns text[],
                p_principal_arns text[], p_operations text[], p_error_codes text[], p_records bytea,
                p_chain text, p_expected_checkpoint bigint, p_checkpoint bigint, p_checkpoint_seq bigint,
                p_checkpoint_mac bytea, p_made_at_us bigint, p_root_key_id uuid, p_pending uuid[],
                INOUT written boolean DEFAULT NULL
            ) LANGUAGE plpgsql AS $$
            BEGIN
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
                    DELETE FROM kms_audit_pending WHERE id IN (SELECT id FROM chained) AND EXISTS (SELECT 1 FROM moved)
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
                written := FOUND;
                COMMIT;
            END
            $$
            """
        ])
}
