import Foundation
import KMSDomain
import Logging
import PostgresNIO

/// The last successful cryptographic use of a key (GetKeyLastUsage).
public struct KeyUsageRecord: Sendable, Hashable {
    /// The operation's AWS name ("Decrypt").
    public var operation: String
    /// When it ran; a later use replaces the record, an earlier one never does.
    public var date: Date
    /// The request's id, to find it in the audit log.
    public var requestID: String

    /// A use as recorded.
    public init(operation: String, date: Date, requestID: String) {
        self.operation = operation
        self.date = date
        self.requestID = requestID
    }
}

/// Each key's last use in PostgreSQL, written in batches (not per request) and read by GetKeyLastUsage.
public struct LastUsageStore: Sendable {
    let client: PostgresClient
    let logger: Logger

    /// A store over `client`.
    public init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    /// Writes a batch; a row is replaced only by a later use, so kmsd replicas and late
    /// flushes never move it back.
    public func record(_ uses: [KeyID: KeyUsageRecord]) async throws {
        guard !uses.isEmpty else { return }
        let batch = Array(uses)
        let ids = batch.map(\.key.uuid)
        let entries = batch.map(\.value)
        let query: PostgresQuery = """
            INSERT INTO kms_key_last_usage (key_id, operation, used_at, request_id)
            SELECT u.key_id, u.operation, u.used_at, u.request_id
            FROM unnest(\(ids)::uuid[], \(entries.map(\.operation))::text[], \(entries.map(\.date))::timestamptz[],
                        \(entries.map(\.requestID))::text[]) AS u(key_id, operation, used_at, request_id)
            WHERE EXISTS (SELECT 1 FROM kms_keys k WHERE k.key_id = u.key_id)
            ON CONFLICT (key_id) DO UPDATE SET operation = EXCLUDED.operation, used_at = EXCLUDED.used_at,
                request_id = EXCLUDED.request_id
            WHERE kms_key_last_usage.used_at < EXCLUDED.used_at
            """
        // Committed before the caller drops the batch (CommittedWrite).
        try await self.client.committing(logger: self.logger) { connection in
            try await connection.planKeyLookupsByIndex(logger: self.logger)
            try await connection.query(query, logger: self.logger)
        }
    }

    /// The key's last recorded use; nil when it has none (or there is no such key).
    public func lastUse(keyID: KeyID) async throws -> KeyUsageRecord? {
        let id = keyID.uuid
        let rows = try await self.client.query(
            "SELECT operation, used_at, request_id FROM kms_key_last_usage WHERE key_id = \(id)", logger: self.logger
        )
        for try await (operation, date, requestID) in rows.decode((String, Date, String).self) {
            return KeyUsageRecord(operation: operation, date: date, requestID: requestID)
        }
        return nil
    }

    /// When tracking began: the migration that created the table.
    public func trackingStart() async throws -> Date? {
        let rows = try await self.client.query(
            "SELECT applied_at FROM kms_schema_migrations WHERE version = 5", logger: self.logger)
        for try await date in rows.decode(Date.self) { return date }
        return nil
    }
}
