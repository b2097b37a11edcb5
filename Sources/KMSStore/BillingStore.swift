import Foundation
import KMSDomain
import Logging
import PostgresNIO

/// What the usage report bills a key for over a period.
public struct BilledKey: Sendable, Hashable {
    /// The key's ARN, as the report names it.
    public var arn: String
    /// Its key spec; the price of its requests depends on it.
    public var spec: KeySpec
    /// AWS-managed keys are not billed to the account; customer-managed ones are.
    public var manager: KeyManager
    /// When billing started.
    public var creationDate: Date
    /// When billing stopped: the time its deletion was scheduled (AWS bills nothing for a key
    /// pending deletion, and a cancelled deletion bills as if never scheduled). Nil: still billed.
    public var billedUntil: Date?
    /// True for a key already deleted (from `kms_deleted_keys`), billed up to its scheduling.
    public var deleted: Bool
    /// Its rotations, oldest first: each of the first two adds a key-month (AWS's cap).
    public var rotationDates: [Date]

    /// A billed key from its parts (other `BillingStoring` implementations make them too).
    public init(
        arn: String, spec: KeySpec, manager: KeyManager, creationDate: Date, billedUntil: Date?, deleted: Bool,
        rotationDates: [Date]
    ) {
        self.arn = arn
        self.spec = spec
        self.manager = manager
        self.creationDate = creationDate
        self.billedUntil = billedUntil
        self.deleted = deleted
        self.rotationDates = rotationDates
    }
}

/// Keys as billing sees them: the account's live keys, and those deleted since `from`.
public struct BillingStore: Sendable {
    let client: PostgresClient
    let logger: Logger

    /// A store over `client`.
    public init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    /// The account's keys, live or pending deletion, and those deleted at or after `from`; rows whose
    /// spec or manager this build does not know are left out.
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
        for try await (arn, spec, manager, created, until, deleted, rotations) in rows.decode(
            (String, String, String, Date, Date?, Bool, [Date]).self)
        {
            guard let spec = KeySpec(rawValue: spec), let manager = KeyManager(rawValue: manager) else { continue }
            keys.append(
                BilledKey(
                    arn: arn, spec: spec, manager: manager, creationDate: created, billedUntil: until, deleted: deleted,
                    rotationDates: rotations))
        }
        return keys
    }

    /// Per key and operation: successful GenerateDataKey*, Decrypt calls in [from, to), and how
    /// many would remain if each principal cached what it got for `cacheSeconds` (calls with the
    /// same principal and encryption context in the same window count once). From the audit log.
    public func cacheEstimate(
        account: String, keyARN: String?, from: Date, to: Date, cacheSeconds: Int
    ) async throws -> [(keyARN: String, operation: String, requests: Int64, withCache: Int64)] {
        var estimate = CacheEstimate(account: account, cacheSeconds: cacheSeconds)
        let audit = AuditStore(client: self.client, logger: self.logger)
        let filter = AuditStore.Filter(keyARN: keyARN, from: from, to: to)
        try await audit.scan(filter, operations: CacheEstimate.operations) { listed in
            estimate.add(listed.lazy.map(\.record))
            return true
        }
        return estimate.lines
    }
}
