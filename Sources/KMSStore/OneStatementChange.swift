import Logging
import PostgresNIO

extension PostgresClient {
    /// Runs a change that is one statement, with its audit record, in one statement: three round
    /// trips (BEGIN, the statement, COMMIT) where the change, `planKeyLookupsByIndex`'s setting
    /// and the record's insert each took one; an administration call beside a light load waits
    /// about as long as its count of round trips. `change` returns a row per row it changed, and
    /// those rows are returned; the record is stored only when there is one (as
    /// `change(recording:effective:)` does with an effective result), so both commit or neither
    /// does. Not a lone statement: the protocol lets PostgreSQL answer one (CommandComplete, where
    /// postgres-nio ends its rows) before its implicit transaction commits at Sync, so its
    /// success could be reported before it is durable and visible to other sessions (PostgreSQL
    /// happens to hold that answer in its output buffer until after the commit; nothing promises
    /// it); COMMIT's answer comes after both.
    ///
    /// With `planKeyLookupsByIndex`, the statement prices whole-table scans out for its
    /// transaction before its foreign-key checks and announcement triggers run: those are AFTER
    /// triggers, fired once the whole statement (its data-modifying CTEs included) is done, so
    /// whatever plan they make for the session is made with the setting on. A change of no row
    /// fires none of them.
    func changeInOneStatement(
        _ change: PostgresQuery, recording audit: PendingAudit?, planKeyLookupsByIndex: Bool, logger: Logger
    ) async throws -> [PostgresRow] {
        var binds = change.binds
        var sql = "WITH change AS (\n\(change.sql)\n)"
        if let audit { sql += ", " + AuditOutbox.recorded(audit, whenChanged: &binds) }
        sql += "\nSELECT change.* FROM change"
        if planKeyLookupsByIndex { sql += " WHERE set_config('enable_seqscan', 'off', true) IS NOT NULL" }
        let query = PostgresQuery(unsafeSQL: sql, binds: binds)
        let changed = try await self.withTransaction(logger: logger) { connection in
            var changed: [PostgresRow] = []
            for try await row in try await connection.query(query, logger: logger) { changed.append(row) }
            return changed
        }
        if !changed.isEmpty { audit?.markCommitted() }
        return changed
    }
}
