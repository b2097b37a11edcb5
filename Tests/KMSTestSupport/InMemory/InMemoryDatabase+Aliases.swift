import Foundation
import KMSDomain
import KMSServer
import KMSStore

/// Aliases as AliasStore changes them: unique per account and region, each naming a key that
/// exists (the foreign key), gone with their key.
extension InMemoryDatabase: AliasStoring {
    /// AliasStore.create: INSERT ... ON CONFLICT DO NOTHING.
    public func create(account: String, region: String, name: String, keyID: KeyID, now: Date, audit: PendingAudit?)
        async throws -> Bool
    {
        let id = keyID
        return try self.change(recording: audit, effective: { $0 }) { tables in
            let alias = Tables.AliasName(account, region, name)
            guard tables.aliases[alias] == nil else { return false }
            try tables.requireKey(id, for: "kms_aliases")
            let date = SQL.timestamptz(now)
            tables.aliases[alias] = Tables.AliasRow(targetKeyID: id, creationDate: date, lastUpdatedDate: date)
            return true
        }
    }

    /// AliasStore.update: the foreign key is checked only when the alias exists.
    public func update(account: String, region: String, name: String, keyID: KeyID, now: Date, audit: PendingAudit?)
        async throws -> Bool
    {
        let id = keyID
        return try self.change(recording: audit, effective: { $0 }) { tables in
            let alias = Tables.AliasName(account, region, name)
            guard var row = tables.aliases[alias] else { return false }
            try tables.requireKey(id, for: "kms_aliases")
            row.targetKeyID = id
            row.lastUpdatedDate = SQL.timestamptz(now)
            tables.aliases[alias] = row
            return true
        }
    }

    /// AliasStore.delete.
    public func delete(account: String, region: String, name: String, audit: PendingAudit?) async throws -> Bool {
        try self.change(recording: audit, effective: { $0 }) { tables in
            tables.aliases.removeValue(forKey: Tables.AliasName(account, region, name)) != nil
        }
    }

    /// AliasStore.find.
    public func find(account: String, region: String, name: String) async throws -> AliasRecord? {
        self.read { tables in
            let alias = Tables.AliasName(account, region, name)
            return tables.aliases[alias].map { self.record(alias, $0) }
        }
    }

    /// AliasStore.list: `alias_name > marker` (nil: the empty name) by name.
    public func list(account: String, region: String, keyID: KeyID?, after marker: String?, limit: Int) async throws
        -> [AliasRecord]
    {
        try SQL.checkPage(limit: limit)
        let target = keyID
        let after = SQLText(marker ?? "")
        return self.read { tables in
            tables.aliases
                .filter { alias, row in
                    alias.account == SQLText(account) && alias.region == SQLText(region) && alias.name > after
                        && (target == nil || row.targetKeyID == target)
                }
                .sorted { $0.key.name < $1.key.name }
                .prefix(limit).map { self.record($0.key, $0.value) }
        }
    }

    private func record(_ alias: Tables.AliasName, _ row: Tables.AliasRow) -> AliasRecord {
        let arn = KMSResourceARN(
            partition: self.partition, region: alias.region.value, account: alias.account.value,
            resource: .alias(name: alias.name.value)
        ).description
        return AliasRecord(
            name: alias.name.value, arn: arn, targetKeyID: row.targetKeyID, creationDate: row.creationDate,
            lastUpdatedDate: row.lastUpdatedDate)
    }
}
