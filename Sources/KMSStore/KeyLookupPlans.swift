import Logging
import PostgresNIO

extension PostgresConnection {
    /// Called first in a transaction that inserts a key's material, tags or last use: the
    /// foreign-key checks of those rows look kms_keys up with a plan each session keeps, made at
    /// its first runs, and a plan made while kms_keys was an analyzed page or two scans the whole
    /// table until the next ANALYZE. With whole-table scans priced out for this transaction, a
    /// plan made here looks the key up by its index. Every transaction that inserts these rows
    /// does this (CreateKey's procedures from inside their statement, Migration31KeyInsertLookupsByIndex),
    /// so no session can make the check's plan otherwise; local to the transaction, so its COMMIT
    /// resets it. One round trip, on administration's paths and the usage flush only.
    func planKeyLookupsByIndex(logger: Logger) async throws {
        try await self.query("SELECT set_config('enable_seqscan', 'off', true)", logger: logger)
    }
}
