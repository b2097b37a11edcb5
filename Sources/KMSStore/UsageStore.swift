import Foundation
import Logging
import PostgresNIO

/// Request counters per account, key (empty for operations on no key), operation and hour.
public struct UsageKey: Sendable, Hashable {
    /// The account billed.
    public var account: String
    /// The key's ARN; empty for operations on no key (GenerateRandom, for one).
    public var keyARN: String
    /// The operation's AWS name.
    public var operation: String
    /// The start of the wall-clock hour (UTC) the requests fell in.
    public var hour: Date

    /// A counter's key; `hour` must already be truncated to the hour.
    public init(account: String, keyARN: String, operation: String, hour: Date) {
        self.account = account
        self.keyARN = keyARN
        self.operation = operation
        self.hour = hour
    }
}

/// Requests counted under one `UsageKey`.
public struct UsageCount: Sendable, Hashable {
    /// All requests, failed ones included.
    public var requests: Int64
    /// Those among them that failed.
    public var failed: Int64

    /// Counts to add; zero by default.
    public init(requests: Int64 = 0, failed: Int64 = 0) {
        self.requests = requests
        self.failed = failed
    }
}

/// Request counters in PostgreSQL, added to in batches and summed for the usage report.
public struct UsageStore: Sendable {
    let client: PostgresClient
    let logger: Logger

    /// A store over `client`.
    public init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    /// Adds a batch of counts (one statement, whatever its size), once: a batch sent again with
    /// the same `id` (its first commit's answer was lost) adds nothing. True when this call added it.
    @discardableResult
    public func add(_ counts: [UsageKey: UsageCount], id: UUID = UUID()) async throws -> Bool {
        guard !counts.isEmpty else { return false }
        let entries = Array(counts)
        let query: PostgresQuery = """
            WITH pruned AS (
                DELETE FROM kms_usage_flushes WHERE added_at < now() - interval '1 day'
            ), claimed AS (
                INSERT INTO kms_usage_flushes (id) VALUES (\(id)) ON CONFLICT (id) DO NOTHING RETURNING 1
            ), added AS (
                INSERT INTO kms_usage (account_id, key_arn, operation, hour, requests, failed)
                SELECT * FROM unnest(\(entries.map(\.key.account)), \(entries.map(\.key.keyARN)),
                    \(entries.map(\.key.operation)),
                    \(entries.map(\.key.hour)), \(entries.map(\.value.requests)), \(entries.map(\.value.failed)))
                WHERE EXISTS (SELECT 1 FROM claimed)
                ON CONFLICT (account_id, key_arn, operation, hour)
                DO UPDATE SET requests = kms_usage.requests + EXCLUDED.requests,
                    failed = kms_usage.failed + EXCLUDED.failed
            )
            SELECT count(*)::bigint FROM claimed
            """
        // Committed before the caller drops the counts (CommittedWrite).
        return try await self.client.committing(logger: self.logger) { connection in
            var added = false
            for try await claimed in try await connection.query(query, logger: self.logger).decode(Int64.self) {
                added = claimed > 0
            }
            return added
        }
    }

    /// Totals per key and operation over [from, to).
    public func totals(account: String, keyARN: String?, from: Date, to: Date) async throws -> [UsageKey: UsageCount] {
        let rows = try await self.client.query(
            """
            SELECT key_arn, operation, sum(requests)::bigint, sum(failed)::bigint FROM kms_usage
            WHERE account_id = \(account) AND hour >= \(from) AND hour < \(to)
              AND (\(keyARN)::text IS NULL OR key_arn = \(keyARN))
            GROUP BY key_arn, operation ORDER BY key_arn, operation
            """,
            logger: self.logger
        )
        var totals: [UsageKey: UsageCount] = [:]
        for try await (arn, operation, requests, failed) in rows.decode((String, String, Int64, Int64).self) {
            totals[UsageKey(account: account, keyARN: arn, operation: operation, hour: from)] = UsageCount(
                requests: requests, failed: failed)
        }
        return totals
    }
}
