import Logging
import PostgresNIO

extension PostgresConnection {
    /// Called first in a transaction that inserts (or repoints) a row referencing kms_keys: a
    /// key's material, tags, rotation or last use, a grant, an alias. The row's foreign-key check,
    /// and the announcement trigger's `kms_key_created_here`, look kms_keys up with plans each
    /// session keeps, made at their first runs, and a plan made while kms_keys was an analyzed
    /// page or two scans the whole table until the next ANALYZE. With whole-table scans priced
    /// out for this transaction, a plan made here looks the key up by its index. Every such
    /// transaction does this (CreateKey's procedures from inside their statement,
    /// Migration31KeyInsertLookupsByIndex), so no session makes those plans otherwise; local to
    /// the transaction, so its COMMIT resets it. One round trip, off the cryptographic path.
    func planKeyLookupsByIndex(logger: Logger) async throws {
        try await self.query("SELECT set_config('enable_seqscan', 'off', true)", logger: logger)
    }
}
