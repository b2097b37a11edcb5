import PostgresNIO

extension Migrations {
    /// One row per group commit instead of one per record (`AuditSegment` has the layout and the
    /// reasons), and a chain per writer (DESIGN.md: replicas never serialize on one head row).
    /// The records kept before it become segments of one record each in chain `default`, written
    /// by SQL in the same layout, with their hashes unchanged, so they still verify.
    static let auditSegments = Migration(
        version: 11, name: "audit log in segments, a chain per writer",
        statements: [
            """
            CREATE TABLE kms_audit_chains (
                chain_id text PRIMARY KEY,
                last_seq bigint NOT NULL,
                last_hash bytea NOT NULL,
                created_at timestamptz NOT NULL DEFAULT now()
            )
            """,
            """
            INSERT INTO kms_audit_chains (chain_id, last_seq, last_hash) SELECT 'default', last_seq, last_hash
                FROM kms_audit_head
            """,
            "DROP TABLE kms_audit_head",
            """
            CREATE TABLE kms_audit_segments (
                -- Commit order across chains, for listing and paging.
                segment_id bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
                chain_id text NOT NULL,
                first_seq bigint NOT NULL,
                last_seq bigint NOT NULL,
                min_time timestamptz NOT NULL,
                max_time timestamptz NOT NULL,
                -- What the segment's records name, without duplicates: listing filters on these.
                key_arns text[] NOT NULL,
                principal_arns text[] NOT NULL,
                operations text[] NOT NULL,
                error_codes text[] NOT NULL,
                records bytea NOT NULL,
                PRIMARY KEY (chain_id, first_seq)
            )
            """,
            // Records repeat ARNs and names: lz4 keeps them small for little CPU, where the server has it.
            """
            DO $$ BEGIN
                IF EXISTS (SELECT 1 FROM pg_settings WHERE name = 'default_toast_compression'
                    AND 'lz4' = ANY (enumvals)) THEN
                    ALTER TABLE kms_audit_segments ALTER COLUMN records SET COMPRESSION lz4;
                END IF;
            END $$
            """,
            "CREATE INDEX kms_audit_segments_by_key ON kms_audit_segments USING gin (key_arns)",
            "CREATE INDEX kms_audit_segments_by_principal ON kms_audit_segments USING gin (principal_arns)",
            "CREATE INDEX kms_audit_segments_by_time ON kms_audit_segments (max_time)",
            """
            CREATE TRIGGER kms_audit_segments_append_only BEFORE UPDATE OR DELETE ON kms_audit_segments
                FOR EACH ROW EXECUTE FUNCTION kms_audit_append_only()
            """,
            // AuditSegment's layout: a string is its UTF-8 length (4 bytes) and bytes; an optional
            // one is a byte 0, or 1 and the string.
            """
            CREATE FUNCTION pg_temp.kms_audit_text(t text) RETURNS bytea LANGUAGE sql IMMUTABLE
                AS $$ SELECT int4send(octet_length(convert_to(t, 'UTF8'))) || convert_to(t, 'UTF8') $$
            """,
            """
            CREATE FUNCTION pg_temp.kms_audit_optional(t text) RETURNS bytea LANGUAGE sql IMMUTABLE
                AS $$ SELECT CASE WHEN t IS NULL THEN '\\x00'::bytea ELSE '\\x01'::bytea ||
                    pg_temp.kms_audit_text(t) END $$
            """,
            """
            INSERT INTO kms_audit_segments (chain_id, first_seq, last_seq, min_time, max_time, key_arns, principal_arns,
                operations,
                error_codes, records)
            SELECT 'default', seq, seq, event_time, event_time, ARRAY(SELECT DISTINCT unnest(key_arns)),
                ARRAY[principal_arn], ARRAY[operation],
                CASE WHEN error_code IS NULL THEN '{}'::text[] ELSE ARRAY[error_code] END,
                '\\x01'::bytea || int8send(seq) || int8send((extract(epoch FROM event_time) * 1000000)::bigint)
                || pg_temp.kms_audit_text(request_id) || pg_temp.kms_audit_text(principal_arn)
                || pg_temp.kms_audit_optional(access_key_id) || pg_temp.kms_audit_optional(source_ip)
                || pg_temp.kms_audit_text(transport) || pg_temp.kms_audit_text(operation)
                || int2send(cardinality(key_arns)::smallint)
                || coalesce((SELECT string_agg(pg_temp.kms_audit_text(a), ''::bytea ORDER BY o)
                             FROM unnest(key_arns) WITH ORDINALITY AS u (a, o)), ''::bytea)
                || pg_temp.kms_audit_optional(alias)
                || CASE WHEN encryption_context IS NULL THEN '\\x00'::bytea ELSE
                       '\\x01'::bytea || int2send((SELECT count(*) FROM
                           json_each_text(encryption_context::json))::smallint)
                       || coalesce((SELECT string_agg(pg_temp.kms_audit_text(c.key) ||
                           pg_temp.kms_audit_text(c.value), ''::bytea ORDER BY c.key)
                                    FROM json_each_text(encryption_context::json) AS c), ''::bytea)
                   END
                || pg_temp.kms_audit_optional(grant_id) || pg_temp.kms_audit_optional(error_code)
                || prev_hash || record_hash
            FROM kms_audit ORDER BY seq
            """,
            "DROP TABLE kms_audit",
        ])
}
