import Foundation
import KMSDomain
import KMSServer
import KMSStore

/// Keys as BillingStore bills them, from the key table, its rotations and the tombstones the
/// reaper keeps, and its cache estimate from the audit log.
extension InMemoryDatabase: BillingStoring {
    /// BillingStore.keys: the account's keys (a key PendingDeletion billed until its deletion
    /// date less its window), then its tombstones deleted at or after `from`.
    public func keys(account: String, from: Date) async throws -> [BilledKey] {
        let bound = SQL.timestamptz(from)
        return self.read { tables in
            let live = tables.keys.filter { SQLText($0.value.account) == SQLText(account) }.map { id, key in
                var until: Date?
                if key.state == .pendingDeletion, let deletion = key.deletionDate {
                    // PostgreSQL subtracts whole days of its session's time zone: 86,400 s in UTC.
                    until = SQL.timestamptz(deletion, plusSeconds: -Int64(key.pendingWindowInDays ?? 0) * 86_400)
                }
                return BilledKey(
                    arn: key.arn, spec: key.spec, manager: key.manager, creationDate: key.creationDate,
                    billedUntil: until, deleted: false,
                    rotationDates: (tables.rotations[id] ?? []).map(\.date).sorted())
            }
            let deleted = tables.deletedKeys.values.filter {
                SQLText($0.account) == SQLText(account) && $0.deletedAt >= bound
            }.map {
                BilledKey(
                    arn: $0.arn, spec: $0.spec, manager: $0.manager, creationDate: $0.creationDate,
                    billedUntil: $0.scheduledAt, deleted: true, rotationDates: $0.rotationDates)
            }
            return live + deleted
        }
    }

    /// BillingStore.cacheEstimate over this database's audit log: the same tally of successful
    /// GenerateDataKey, GenerateDataKeyWithoutPlaintext and Decrypt records.
    public func cacheEstimate(
        account: String, keyARN: String?, from: Date, to: Date, cacheSeconds: Int
    ) async throws -> [(keyARN: String, operation: String, requests: Int64, withCache: Int64)] {
        var estimate = CacheEstimate(account: account, cacheSeconds: cacheSeconds)
        let filter = AuditStore.Filter(keyARN: keyARN, from: from, to: to)
        try await self.scan(
            filter, after: .start, operations: CacheEstimate.operations, maxSegments: .max, deadline: nil
        ) { listed in
            estimate.add(listed.lazy.map(\.record))
            return true
        }
        return estimate.lines
    }
}

extension InMemoryDatabase {
    /// All ten ports on this database, for a `KMSService` (with an `InMemoryAuditLog` over it
    /// as its audit log, when it is to audit).
    public var stores: ServiceStores {
        ServiceStores(
            keys: self, aliases: self, grants: self, identities: self, rotations: self, lastUsage: self,
            auditRecords: self, usage: self, billing: self, rewraps: self)
    }
}
