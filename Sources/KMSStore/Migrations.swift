import Logging
import PostgresNIO

/// The schema, as an ordered list of migrations. Each runs in its own transaction under an
/// advisory lock and is recorded in `kms_schema_migrations`, so that two kmsd starting at once
/// apply each migration exactly once. Migrations are append-only: never edit a shipped one.
public enum Migrations {
    /// One step of the schema; its statements run in one transaction.
    public struct Migration: Sendable {
        /// Its number: migrations run in this order, and the number recorded is what says it ran.
        public let version: Int
        /// What it changes, for the migrations table and the log.
        public let name: String
        /// The SQL, run in order.
        public let statements: [PostgresQuery]
    }

    /// The advisory lock key that serializes migrations (any constant unique to this purpose).
    static let lockKey: Int64 = 0x4B4D_535F_4D49_4752  // "KMS_MIGR"

    /// Every migration, in version order; add new ones at the end.
    public static let all: [Migration] = [
        Migration(
            version: 1, name: "keys, key materials and aliases",
            statements: [
                """
                CREATE TABLE kms_keys (
                    key_id uuid PRIMARY KEY,
                    account_id text NOT NULL,
                    region text NOT NULL,
                    arn text NOT NULL UNIQUE,
                    description text NOT NULL DEFAULT '',
                    key_state text NOT NULL,
                    key_usage text NOT NULL,
                    key_spec text NOT NULL,
                    origin text NOT NULL,
                    key_manager text NOT NULL,
                    creation_date timestamptz NOT NULL,
                    deletion_date timestamptz,
                    pending_window_days integer,
                    policy text NOT NULL,
                    current_material_id bytea NOT NULL,
                    row_version bigint NOT NULL DEFAULT 1
                )
                """,
                "CREATE INDEX kms_keys_by_account ON kms_keys (account_id, region, key_id)",
                """
                CREATE INDEX kms_keys_pending_deletion ON kms_keys (deletion_date) WHERE key_state = 'PendingDeletion'
                """,
                """
                CREATE TABLE kms_key_materials (
                    key_id uuid NOT NULL REFERENCES kms_keys (key_id) ON DELETE CASCADE,
                    material_id bytea NOT NULL,
                    wrapped bytea NOT NULL,
                    root_key_id uuid NOT NULL,
                    created_at timestamptz NOT NULL,
                    PRIMARY KEY (key_id, material_id)
                )
                """,
                """
                CREATE TABLE kms_aliases (
                    account_id text NOT NULL,
                    region text NOT NULL,
                    alias_name text NOT NULL,
                    target_key_id uuid NOT NULL REFERENCES kms_keys (key_id) ON DELETE CASCADE,
                    creation_date timestamptz NOT NULL,
                    last_updated_date timestamptz NOT NULL,
                    PRIMARY KEY (account_id, region, alias_name)
                )
                """,
                "CREATE INDEX kms_aliases_by_key ON kms_aliases (target_key_id)",
                // Every change to a key or an alias is announced, so that every kmsd drops its cached
                // copy; triggers make it impossible to forget on some code path.
                """
                CREATE FUNCTION kms_notify_key_change() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    PERFORM pg_notify('kms_key_changed', COALESCE(NEW.key_id, OLD.key_id)::text);
                    RETURN NULL;
                END $$
                """,
                """
                CREATE TRIGGER kms_keys_changed AFTER UPDATE OR DELETE ON kms_keys
                    FOR EACH ROW EXECUTE FUNCTION kms_notify_key_change()
                """,
                """
                CREATE TRIGGER kms_key_materials_changed AFTER INSERT OR UPDATE OR DELETE ON kms_key_materials
                    FOR EACH ROW EXECUTE FUNCTION kms_notify_key_change()
                """,
                """
                CREATE FUNCTION kms_notify_alias_change() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    PERFORM pg_notify('kms_alias_changed',
                        COALESCE(NEW.account_id, OLD.account_id) || ':' || COALESCE(NEW.region, OLD.region) || ':' ||
                        COALESCE(NEW.alias_name, OLD.alias_name));
                    IF TG_OP = 'UPDATE' AND OLD.alias_name <> NEW.alias_name THEN
                        PERFORM pg_notify('kms_alias_changed', OLD.account_id || ':' || OLD.region || ':' ||
                            OLD.alias_name);
                    END IF;
                    RETURN NULL;
                END $$
                """,
                """
                CREATE TRIGGER kms_aliases_changed AFTER INSERT OR UPDATE OR DELETE ON kms_aliases
                    FOR EACH ROW EXECUTE FUNCTION kms_notify_alias_change()
                """,
            ]),
        Migration(
            version: 2, name: "grants",
            statements: [
                """
                CREATE TABLE kms_grants (
                    grant_id text PRIMARY KEY,
                    key_id uuid NOT NULL REFERENCES kms_keys (key_id) ON DELETE CASCADE,
                    name text,
                    grantee_principal text NOT NULL,
                    retiring_principal text,
                    issuing_account text NOT NULL,
                    operations text[] NOT NULL,
                    context_equals text,
                    context_subset text,
                    creation_date timestamptz NOT NULL
                )
                """,
                "CREATE INDEX kms_grants_by_key ON kms_grants (key_id, grant_id)",
                "CREATE INDEX kms_grants_by_retiring_principal ON kms_grants (retiring_principal, grant_id)",
                // A grant change is a change of its key: every kmsd drops the cached key with its grants.
                """
                CREATE TRIGGER kms_grants_changed AFTER INSERT OR UPDATE OR DELETE ON kms_grants
                    FOR EACH ROW EXECUTE FUNCTION kms_notify_key_change()
                """,
            ]),
        Migration(
            version: 3, name: "accounts, principals, access keys and identity policies",
            statements: [
                """
                CREATE TABLE kms_accounts (
                    account_id text PRIMARY KEY CHECK (account_id ~ '^[0-9]{12}$'),
                    name text NOT NULL,
                    creation_date timestamptz NOT NULL
                )
                """,
                """
                CREATE TABLE kms_principals (
                    arn text PRIMARY KEY,
                    account_id text NOT NULL REFERENCES kms_accounts (account_id),
                    kind text NOT NULL CHECK (kind IN ('root', 'user', 'role')),
                    name text NOT NULL,
                    is_admin boolean NOT NULL DEFAULT false,
                    creation_date timestamptz NOT NULL
                )
                """,
                "CREATE INDEX kms_principals_by_account ON kms_principals (account_id, arn)",
                // The secret is stored only wrapped by kms-cryptod, bound to its id and principal.
                """
                CREATE TABLE kms_access_keys (
                    access_key_id text PRIMARY KEY,
                    principal_arn text NOT NULL REFERENCES kms_principals (arn) ON DELETE CASCADE,
                    status text NOT NULL CHECK (status IN ('Active', 'Inactive')),
                    wrapped_secret bytea NOT NULL,
                    root_key_id uuid NOT NULL,
                    creation_date timestamptz NOT NULL
                )
                """,
                "CREATE INDEX kms_access_keys_by_principal ON kms_access_keys (principal_arn)",
                """
                CREATE TABLE kms_identity_policies (
                    principal_arn text NOT NULL REFERENCES kms_principals (arn) ON DELETE CASCADE,
                    policy_name text NOT NULL,
                    document text NOT NULL,
                    PRIMARY KEY (principal_arn, policy_name)
                )
                """,
                // A principal's cached entry holds its access keys and identity policies: a change
                // to any of them is announced under the principal's ARN.
                """
                CREATE FUNCTION kms_notify_principal_change() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    IF TG_TABLE_NAME = 'kms_principals' THEN
                        PERFORM pg_notify('kms_principal_changed', COALESCE(NEW.arn, OLD.arn));
                    ELSE
                        PERFORM pg_notify('kms_principal_changed', COALESCE(NEW.principal_arn, OLD.principal_arn));
                    END IF;
                    RETURN NULL;
                END $$
                """,
                """
                CREATE TRIGGER kms_principals_changed AFTER UPDATE OR DELETE ON kms_principals
                    FOR EACH ROW EXECUTE FUNCTION kms_notify_principal_change()
                """,
                """
                CREATE TRIGGER kms_access_keys_changed AFTER INSERT OR UPDATE OR DELETE ON kms_access_keys
                    FOR EACH ROW EXECUTE FUNCTION kms_notify_principal_change()
                """,
                // A key's cached entry holds its alias names (kms:ResourceAliases): an alias change
                // is a change of the keys it leaves and joins.
                """
                CREATE FUNCTION kms_notify_alias_target_change() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    IF TG_OP <> 'INSERT' THEN PERFORM pg_notify('kms_key_changed', OLD.target_key_id::text); END IF;
                    IF TG_OP <> 'DELETE' THEN PERFORM pg_notify('kms_key_changed', NEW.target_key_id::text); END IF;
                    RETURN NULL;
                END $$
                """,
                """
                CREATE TRIGGER kms_aliases_change_keys AFTER INSERT OR UPDATE OR DELETE ON kms_aliases
                    FOR EACH ROW EXECUTE FUNCTION kms_notify_alias_target_change()
                """,
                """
                CREATE TRIGGER kms_identity_policies_changed AFTER INSERT OR UPDATE OR DELETE ON kms_identity_policies
                    FOR EACH ROW EXECUTE FUNCTION kms_notify_principal_change()
                """,
            ]),
        Migration(
            version: 4, name: "key rotation and tags",
            statements: [
                """
                ALTER TABLE kms_keys ADD COLUMN rotation_period_days integer, ADD COLUMN next_rotation_date timestamptz
                """,
                """
                CREATE INDEX kms_keys_rotation_due ON kms_keys (next_rotation_date) WHERE next_rotation_date IS NOT NULL
                """,
                // One row per rotation: the material it made current, when, and how.
                """
                CREATE TABLE kms_key_rotations (
                    key_id uuid NOT NULL REFERENCES kms_keys (key_id) ON DELETE CASCADE,
                    material_id bytea NOT NULL,
                    rotation_date timestamptz NOT NULL,
                    rotation_type text NOT NULL CHECK (rotation_type IN ('AUTOMATIC', 'ON_DEMAND')),
                    PRIMARY KEY (key_id, material_id)
                )
                """,
                "CREATE INDEX kms_key_rotations_by_date ON kms_key_rotations (key_id, rotation_date)",
                """
                CREATE TABLE kms_tags (
                    key_id uuid NOT NULL REFERENCES kms_keys (key_id) ON DELETE CASCADE,
                    tag_key text NOT NULL,
                    tag_value text NOT NULL,
                    PRIMARY KEY (key_id, tag_key)
                )
                """,
                // Tags are cached with their key (aws:ResourceTag): a tag change is a key change.
                """
                CREATE TRIGGER kms_tags_changed AFTER INSERT OR UPDATE OR DELETE ON kms_tags
                    FOR EACH ROW EXECUTE FUNCTION kms_notify_key_change()
                """,
            ]),
        Migration(
            version: 5, name: "key last use",
            statements: [
                // Written in batches from memory (never per request); a row only ever moves forward.
                """
                CREATE TABLE kms_key_last_usage (
                    key_id uuid PRIMARY KEY REFERENCES kms_keys (key_id) ON DELETE CASCADE,
                    operation text NOT NULL,
                    used_at timestamptz NOT NULL,
                    request_id text NOT NULL
                )
                """
            ]),
        Migration(
            version: 6, name: "root key re-wrap jobs",
            statements: [
                """
                CREATE TABLE kms_rewrap_jobs (
                    job_id bigserial PRIMARY KEY,
                    requested_at timestamptz NOT NULL,
                    requested_by text NOT NULL,
                    finished_at timestamptz,
                    rewrapped bigint NOT NULL DEFAULT 0,
                    unavailable bigint NOT NULL DEFAULT 0
                )
                """,
                // At most one job runs at a time.
                "CREATE UNIQUE INDEX kms_rewrap_jobs_running ON kms_rewrap_jobs ((true)) WHERE finished_at IS NULL",
                "CREATE INDEX kms_access_keys_by_root_key ON kms_access_keys (root_key_id)",
                "CREATE INDEX kms_key_materials_by_root_key ON kms_key_materials (root_key_id)",
            ]),
        Migration(
            version: 7, name: "audit log",
            statements: [
                """
                CREATE TABLE kms_audit (
                    seq bigint PRIMARY KEY,
                    event_time timestamptz NOT NULL,
                    request_id text NOT NULL,
                    principal_arn text NOT NULL,
                    access_key_id text,
                    source_ip text,
                    transport text NOT NULL,
                    operation text NOT NULL,
                    key_arns text[] NOT NULL,
                    alias text,
                    encryption_context text,
                    grant_id text,
                    error_code text,
                    prev_hash bytea NOT NULL,
                    record_hash bytea NOT NULL
                )
                """,
                "CREATE INDEX kms_audit_by_time ON kms_audit (event_time)",
                "CREATE INDEX kms_audit_by_principal ON kms_audit (principal_arn, seq)",
                "CREATE INDEX kms_audit_by_key ON kms_audit USING gin (key_arns)",
                // The chain's head: appends lock this row, so every kmsd extends one chain in order.
                """
                CREATE TABLE kms_audit_head (id boolean PRIMARY KEY DEFAULT true CHECK (id), last_seq bigint NOT NULL,
                    last_hash bytea NOT NULL)
                """,
                "INSERT INTO kms_audit_head (last_seq, last_hash) VALUES (0, decode(repeat('00', 32), 'hex'))",
                // Append-only for the service; the hash chain detects what a superuser might still do.
                """
                CREATE FUNCTION kms_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    RAISE EXCEPTION 'the audit log is append-only';
                END $$
                """,
                """
                CREATE TRIGGER kms_audit_append_only BEFORE UPDATE OR DELETE ON kms_audit
                    FOR EACH ROW EXECUTE FUNCTION kms_audit_append_only()
                """,
            ]),
        Migration(
            version: 8, name: "usage counters",
            statements: [
                // Requests per account, key, operation and hour, added to in batches from memory.
                """
                CREATE TABLE kms_usage (
                    account_id text NOT NULL,
                    key_arn text NOT NULL,
                    operation text NOT NULL,
                    hour timestamptz NOT NULL,
                    requests bigint NOT NULL,
                    failed bigint NOT NULL,
                    PRIMARY KEY (account_id, key_arn, operation, hour)
                )
                """,
                "CREATE INDEX kms_usage_by_hour ON kms_usage (hour)",
            ]),
        Migration(
            version: 9, name: "imported key material",
            statements: [
                // An EXTERNAL key has no material until ImportKeyMaterial; then, with
                // KEY_MATERIAL_EXPIRES, the reaper deletes the material at valid_to.
                "ALTER TABLE kms_keys ADD COLUMN valid_to timestamptz, ADD COLUMN expiration_model text",
                "CREATE INDEX kms_keys_material_expiry ON kms_keys (valid_to) WHERE valid_to IS NOT NULL",
            ]),
        Migration(
            version: 10, name: "deleted keys, for the usage report",
            statements: [
                // The reaper copies what billing needs of a key it deletes: a key deleted within a
                // period was still billed for the part of it before its deletion was scheduled.
                """
                CREATE TABLE kms_deleted_keys (
                    arn text PRIMARY KEY,
                    account_id text NOT NULL,
                    region text NOT NULL,
                    key_spec text NOT NULL,
                    key_manager text NOT NULL,
                    creation_date timestamptz NOT NULL,
                    scheduled_at timestamptz NOT NULL,
                    deleted_at timestamptz NOT NULL,
                    rotation_dates timestamptz[] NOT NULL
                )
                """,
                "CREATE INDEX kms_deleted_keys_by_account ON kms_deleted_keys (account_id, deleted_at)",
            ]),
        auditSegments,
        auditCheckpoints,
        auditPending,
        auditFilters,
        usageFlushes,
        auditAppendCommits,
        importedMaterials,
        quietKeyCreation,
        multiRegionKeys,
        customKeyStores,
        multiRegionExports,
        cloudHSMKeyStores,
        tokenKeyMaterials,
        externalKeyStoreChanges,
        peerKeyStates,
        keyInsertCommits,
        keyInsertAliases,
        keyInsertBatches,
        auditAppendPendingByIndex,
        keyInsertLookupsByIndex,
        keyWholeReads,
    ]

    /// Applies every migration not yet recorded. Safe to call from several processes at once.
    /// `upTo` stops after that version (tests of a migration start from the schema before it).
    public static func apply(on client: PostgresClient, upTo last: Int = .max, logger: Logger) async throws {
        // CREATE TABLE IF NOT EXISTS races with itself across sessions; the lock serializes it.
        try await client.withTransaction(logger: logger) { connection in
            try await connection.query("SELECT pg_advisory_xact_lock(\(lockKey))", logger: logger)
            try await connection.query(
                """
                CREATE TABLE IF NOT EXISTS kms_schema_migrations (
                    version integer PRIMARY KEY,
                    name text NOT NULL,
                    applied_at timestamptz NOT NULL DEFAULT now()
                )
                """,
                logger: logger
            )
        }
        for migration in all where migration.version <= last {
            try await client.withTransaction(logger: logger) { connection in
                try await connection.query("SELECT pg_advisory_xact_lock(\(lockKey))", logger: logger)
                let rows = try await connection.query(
                    "SELECT 1 FROM kms_schema_migrations WHERE version = \(migration.version)", logger: logger
                )
                var applied = false
                for try await _ in rows { applied = true }
                guard !applied else { return }
                for statement in migration.statements {
                    try await connection.query(statement, logger: logger)
                }
                try await connection.query(
                    """
                    INSERT INTO kms_schema_migrations (version, name) VALUES (\(migration.version), \(migration.name))
                    """,
                    logger: logger
                )
                logger.notice(
                    "applied migration", metadata: ["version": "\(migration.version)", "name": "\(migration.name)"])
            }
        }
    }

    /// How many of this binary's migrations the database has not recorded as applied: 0 when
    /// the schema is at this binary's latest. One cheap query (kmsd's readiness probe).
    public static func missing(on client: PostgresClient, logger: Logger) async throws -> Int {
        let versions = all.map(\.version)
        let rows = try await client.query(
            "SELECT count(*) FROM kms_schema_migrations WHERE version = ANY(\(versions))", logger: logger)
        var applied = 0
        for try await count in rows.decode(Int.self) { applied = count }
        return versions.count - applied
    }
}
