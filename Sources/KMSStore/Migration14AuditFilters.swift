import PostgresNIO

extension Migrations {
    /// Indexes for listing the audit log by operation and by error code, as migration 11's do by
    /// key and principal: a listing of a rare one (who ran PutKeyPolicy, what was refused with
    /// KMSInvalidStateException) reads the segments that name it instead of every segment. The
    /// error codes' index holds only segments with a failure (most have none); a query uses it
    /// by stating `error_codes <> '{}'` (AuditStore+Reading). Both are small: a segment names a
    /// few operations, and few segments a failure.
    static let auditFilters = Migration(
        version: 14, name: "audit listing by operation and error code",
        statements: [
            "CREATE INDEX kms_audit_segments_by_operation ON kms_audit_segments USING gin (operations)",
            """
            CREATE INDEX kms_audit_segments_by_error ON kms_audit_segments USING gin (error_codes)
                WHERE error_codes <> '{}'
            """,
        ])
}
