import Foundation
import KMSDomain
import KMSServer
import KMSStore

/// Each key's last use, as LastUsageStore writes it.
extension InMemoryDatabase: LastUsageStoring {
    /// LastUsageStore.record: a use replaces the stored one only when strictly later (compared
    /// in microseconds); uses of keys that do not exist are dropped.
    public func record(_ uses: [KeyID: KeyUsageRecord]) async throws {
        self.state.withLock { tables in
            for (id, use) in uses {
                guard tables.keys[id] != nil else { continue }
                var stored = use
                stored.date = SQL.timestamptz(use.date)
                if let current = tables.lastUsage[id], current.date >= stored.date { continue }
                tables.lastUsage[id] = stored
            }
        }
    }

    /// LastUsageStore.lastUse.
    public func lastUse(keyID: KeyID) async throws -> KeyUsageRecord? {
        let id = keyID
        return self.read { $0.lastUsage[id] }
    }

    /// LastUsageStore.trackingStart: here, when the database was made.
    public func trackingStart() async throws -> Date? { self.read { $0.trackingStart } }
}

/// Request counters, as UsageStore adds and sums them.
extension InMemoryDatabase: UsageStoring {
    /// How long a flush id is remembered (UsageStore prunes older ones as it adds).
    static let flushMemory: TimeInterval = 86_400

    /// UsageStore.add: prunes flush ids older than a day, claims `id` (taken: false, nothing
    /// added), adds each count to its hour's row.
    @discardableResult
    public func add(_ counts: [UsageKey: UsageCount], id: UUID) async throws -> Bool {
        guard !counts.isEmpty else { return false }
        let now = self.now
        var rows: [Tables.UsageRow: UsageCount] = [:]
        for (key, count) in counts {
            let row = Tables.UsageRow(
                account: SQLText(key.account), keyARN: SQLText(key.keyARN), operation: SQLText(key.operation),
                hour: SQL.timestamptz(key.hour))
            // Two keys of one batch on one row: PostgreSQL's ON CONFLICT cannot touch a row twice.
            guard rows.updateValue(count, forKey: row) == nil else {
                throw Refused("ON CONFLICT DO UPDATE command cannot affect row a second time")
            }
        }
        return self.state.withLock { tables in
            tables.usageFlushes = tables.usageFlushes.filter { $0.value >= now.addingTimeInterval(-Self.flushMemory) }
            guard tables.usageFlushes[id] == nil else { return false }
            tables.usageFlushes[id] = now
            for (row, count) in rows {
                var total = tables.usage[row] ?? UsageCount()
                total.requests += count.requests
                total.failed += count.failed
                tables.usage[row] = total
            }
            return true
        }
    }

    /// UsageStore.totals: sums per key ARN and operation over hours in [from, to), each keyed
    /// with `from` as its hour.
    public func totals(account: String, keyARN: String?, from: Date, to: Date) async throws -> [UsageKey: UsageCount] {
        let (start, end) = (SQL.timestamptz(from), SQL.timestamptz(to))
        return self.read { tables in
            var totals: [UsageKey: UsageCount] = [:]
            for (row, count) in tables.usage
            where row.account == SQLText(account) && row.hour >= start && row.hour < end
                && (keyARN == nil || row.keyARN == SQLText(keyARN!))
            {
                let key = UsageKey(
                    account: account, keyARN: row.keyARN.value, operation: row.operation.value, hour: from)
                var total = totals[key] ?? UsageCount()
                total.requests += count.requests
                total.failed += count.failed
                totals[key] = total
            }
            return totals
        }
    }
}
