import PostgresNIO

extension Migrations {
    /// The usage flushes already added, by id: a flush whose commit answer was lost (the
    /// connection reset after PostgreSQL committed) is sent again with the same id and adds
    /// nothing the second time, so billing never counts a request twice. Ids older than a day
    /// are pruned by the flushes themselves.
    static let usageFlushes = Migration(
        version: 15, name: "usage flushes added once",
        statements: [
            "CREATE TABLE kms_usage_flushes (id uuid PRIMARY KEY, added_at timestamptz NOT NULL DEFAULT now())",
            "CREATE INDEX kms_usage_flushes_by_time ON kms_usage_flushes (added_at)",
        ])
}
