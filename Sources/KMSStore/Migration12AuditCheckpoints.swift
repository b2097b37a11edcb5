import PostgresNIO

extension Migrations {
    /// Checkpoints (kms-cryptod's MACs over each chain's head, `AuditStore.Checkpoint`) and the
    /// guards around the log. The triggers stop the service's own role and mistakes: no UPDATE,
    /// DELETE or TRUNCATE of segments or checkpoints, and a head row that only moves forward and is
    /// never deleted. A database owner can still disable them; the checkpoints are what shows
    /// what such an owner did. Nothing in the service deletes audit records.
    static let auditCheckpoints = Migration(
        version: 12, name: "audit checkpoints and append-only guards",
        statements: [
            """
            CREATE TABLE kms_audit_checkpoints (
                chain_id text NOT NULL,
                checkpoint_no bigint NOT NULL CHECK (checkpoint_no >= 1),
                -- The last record it covers.
                last_seq bigint NOT NULL,
                last_hash bytea NOT NULL,
                -- kms-cryptod's time when it made the MAC, microseconds since 1970 (exact: the MAC covers it).
                made_at_us bigint NOT NULL,
                -- The root key the MAC key is derived from.
                root_key_id uuid NOT NULL,
                mac bytea NOT NULL,
                PRIMARY KEY (chain_id, checkpoint_no)
            )
            """,
            // The head row names the chain's last checkpoint (0: none yet): the next one links to its
            // MAC, and writers of one chain take turns on it as they do on the head.
            """
            ALTER TABLE kms_audit_chains ADD COLUMN checkpoint_no bigint NOT NULL DEFAULT 0,
                ADD COLUMN checkpoint_seq bigint NOT NULL DEFAULT 0, ADD COLUMN checkpoint_mac bytea
            """,
            // TRUNCATE fires no row trigger: each table needs a statement trigger too.
            """
            CREATE TRIGGER kms_audit_segments_no_truncate BEFORE TRUNCATE ON kms_audit_segments
                FOR EACH STATEMENT EXECUTE FUNCTION kms_audit_append_only()
            """,
            """
            CREATE TRIGGER kms_audit_checkpoints_append_only BEFORE UPDATE OR DELETE ON kms_audit_checkpoints
                FOR EACH ROW EXECUTE FUNCTION kms_audit_append_only()
            """,
            """
            CREATE TRIGGER kms_audit_checkpoints_no_truncate BEFORE TRUNCATE ON kms_audit_checkpoints
                FOR EACH STATEMENT EXECUTE FUNCTION kms_audit_append_only()
            """,
            """
            CREATE FUNCTION kms_audit_head_forward_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF TG_OP <> 'UPDATE' THEN
                    RAISE EXCEPTION 'audit chain heads are never deleted';
                END IF;
                IF NEW.chain_id <> OLD.chain_id OR NEW.created_at <> OLD.created_at
                    OR NEW.last_seq < OLD.last_seq OR (NEW.last_seq = OLD.last_seq AND NEW.last_hash <> OLD.last_hash)
                    OR NEW.checkpoint_no < OLD.checkpoint_no
                    OR (NEW.checkpoint_no = OLD.checkpoint_no AND (NEW.checkpoint_seq <> OLD.checkpoint_seq
                        OR NEW.checkpoint_mac IS DISTINCT FROM OLD.checkpoint_mac)) THEN
                    RAISE EXCEPTION 'an audit chain''s head only moves forward';
                END IF;
                RETURN NEW;
            END $$
            """,
            """
            CREATE TRIGGER kms_audit_chains_forward_only BEFORE UPDATE OR DELETE ON kms_audit_chains
                FOR EACH ROW EXECUTE FUNCTION kms_audit_head_forward_only()
            """,
            """
            CREATE TRIGGER kms_audit_chains_no_truncate BEFORE TRUNCATE ON kms_audit_chains
                FOR EACH STATEMENT EXECUTE FUNCTION kms_audit_append_only()
            """,
        ])
}
