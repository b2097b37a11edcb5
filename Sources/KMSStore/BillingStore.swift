import Foundation
import KMSDomain
import Logging
import PostgresNIO

/// What the usage report bills a key for over a period.
public struct BilledKey: Sendable, Hashable {
    public var arn: String
    public var spec: KeySpec
    public var manager: KeyManager
    public var creationDate: Date
    /// When billing stopped: the time its deletion was scheduled (AWS bills nothing for a key
    /// pending deletion, and a cancelled deletion bills as if never scheduled). Nil: still billed.
    public var billedUntil: Date?
    public var deleted: Bool
    /// Its rotations, oldest first: each of the first two adds a key-month (AWS's cap).
    public var rotationDates: [Date]
}

/// Keys as billing sees them: the account's live keys, and those deleted since `from`.
public struct BillingStore: Sendable {
    let client: PostgresClient
    let logger: Logger

    public init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    public func keys(account: String, from: Date) async throws -> [BilledKey] {
        let rows = try await self.client.query(
            """
            SELECT k.arn, k.key_spec, k.key_manager, k.creation_date,
                CASE WHEN k.key_state = 'PendingDeletion'
                     THEN k.deletion_date - make_interval(days => coalesce(k.pending_window_days, 0)) END,
                false,
                coalesce((SELECT array_agg(r.rotation_date ORDER BY r.rotation_date) FROM kms_key_rotations r
                          WHERE r.key_id = k.key_id), '{}')
            FROM kms_keys k WHERE k.account_id = \(account)
            UNION ALL
            SELECT arn, key_spec, key_manager, creation_date, scheduled_at, true, rotation_dates
            FROM kms_deleted_keys WHERE account_id = \(account) AND deleted_at >= \(from)
            """,
            logger: self.logger
        )
        var keys: [BilledKey] = []
        for try await (arn, spec, manager, created, until, deleted, rotations) in rows.decode((String, String, String, Date, Date?, Bool, [Date]).self) {
            guard let spec = KeySpec(rawValue: spec), let manager = KeyManager(rawValue: manager) else { continue }
            keys.append(BilledKey(arn: arn, spec: spec, manager: manager, creationDate: created, billedUntil: until, deleted: deleted, rotationDates: rotations))
        }
        return keys
    }

    /// Per key and operation: successful GenerateDataKey*, Decrypt calls in [from, to), and how
    /// many would remain if each principal cached what it got for `cacheSeconds` (calls with the
    /// same principal and encryption context in the same window count once). From the audit log.
    public func cacheEstimate(
        account: String, keyARN: String?, from: Date, to: Date, cacheSeconds: Int
    ) async throws -> [(keyARN: String, operation: String, requests: Int64, withCache: Int64)] {
        let rows = try await self.client.query(
            """
            SELECT key_arns[1], operation, count(*)::bigint,
                count(DISTINCT (principal_arn, coalesce(encryption_context, ''),
                                floor(extract(epoch FROM event_time) / \(cacheSeconds))))::bigint
            FROM kms_audit
            WHERE event_time >= \(from) AND event_time < \(to) AND error_code IS NULL
              AND operation IN ('GenerateDataKey', 'GenerateDataKeyWithoutPlaintext', 'Decrypt')
              AND cardinality(key_arns) > 0 AND split_part(key_arns[1], ':', 5) = \(account)
              AND (\(keyARN)::text IS NULL OR key_arns[1] = \(keyARN))
            GROUP BY 1, 2 ORDER BY 1, 2
            """,
            logger: self.logger
        )
        var lines: [(keyARN: String, operation: String, requests: Int64, withCache: Int64)] = []
        for try await (arn, operation, requests, withCache) in rows.decode((String, String, Int64, Int64).self) {
            lines.append((arn, operation, requests, withCache))
        }
        return lines
    }
}
