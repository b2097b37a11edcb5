import PostgresNIO

extension Migrations {
    /// The audit records of changes, committed in the changes' own transactions and waiting for
    /// their writer to chain them (`AuditOutbox`). Rows leave only in the statement that chains
    /// them, so, unlike the segments, this table takes deletes.
    static let auditPending = Migration(
        version: 13, name: "audit records committed with their changes",
        statements: [
            """
            CREATE TABLE kms_audit_pending (
                id uuid PRIMARY KEY,
                -- The chain whose writer chains it: the kmsd that made the change.
                chain_id text NOT NULL,
                created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
                -- A one-record segment (AuditSegment's layout) with sequence 0 and zero hashes.
                record bytea NOT NULL
            )
            """,
            "CREATE INDEX kms_audit_pending_by_chain ON kms_audit_pending (chain_id, created_at)",
        ])
}
