import Foundation
import KMSDomain
import KMSServer
import KMSStore

/// Grants as GrantStore changes them: at most `GrantRecord.maximumPerKey` per key, each on a
/// key that exists, gone with their key.
extension InMemoryDatabase: GrantStoring {
    /// GrantStore.insert: INSERT ... SELECT ... WHERE the key's count is under the limit, so a
    /// full key answers false before any constraint is checked.
    public func insert(_ grant: GrantRecord, audit: PendingAudit?) async throws -> Bool {
        let keyID = grant.keyID
        return try self.change(recording: audit, effective: { $0 }) { tables in
            guard (tables.grants[keyID]?.count ?? 0) < GrantRecord.maximumPerKey else { return false }
            let grantID = SQLText(grant.grantID)
            guard tables.grantKeys[grantID] == nil else {
                throw Refused("duplicate key value violates kms_grants_pkey")
            }
            try tables.requireKey(keyID, for: "kms_grants")
            var stored = grant
            stored.creationDate = SQL.timestamptz(grant.creationDate)
            tables.grants[keyID, default: [:]][grantID] = stored
            tables.grantKeys[grantID] = keyID
            return true
        }
    }

    /// GrantStore.forKey: `grant_id > marker` (nil: the empty id) by grant id.
    public func forKey(_ keyID: KeyID, after marker: String?, limit: Int) async throws -> [GrantRecord] {
        let id = keyID
        try SQL.checkPage(limit: limit)
        return self.read { tables in Self.page(tables.grants[id]?.values ?? [:].values, after: marker, limit: limit) }
    }

    /// GrantStore.forKey with ListGrants' filters: equality on grant id and grantee principal
    /// where given, before the limit.
    public func forKey(_ keyID: KeyID, grantID: String?, granteePrincipal: String?, after marker: String?, limit: Int)
        async throws -> [GrantRecord]
    {
        let id = keyID
        try SQL.checkPage(limit: limit)
        return self.read { tables in
            let matching = (tables.grants[id]?.values ?? [:].values).filter { grant in
                (grantID.map { SQLText($0) == SQLText(grant.grantID) } ?? true)
                    && (granteePrincipal.map { SQLText($0) == SQLText(grant.granteePrincipal) } ?? true)
            }
            return Self.page(matching, after: marker, limit: limit)
        }
    }

    /// GrantStore.retirable: grants whose retiring principal is `principal`, by grant id, each
    /// with its key's ARN (the join on kms_keys).
    public func retirable(by principal: String, after marker: String?, limit: Int) async throws
        -> [(grant: GrantRecord, keyARN: String)]
    {
        try SQL.checkPage(limit: limit)
        return self.read { tables in
            let named = tables.grants.values.flatMap(\.values).filter { grant in
                grant.retiringPrincipal.map { SQLText($0) == SQLText(principal) } == true
            }
            return Self.page(named, after: marker, limit: limit).compactMap { grant in
                tables.keys[grant.keyID].map { (grant: grant, keyARN: $0.arn) }
            }
        }
    }

    /// GrantStore.find(grantID:).
    public func find(grantID: String) async throws -> GrantRecord? {
        self.read { tables in Self.grant(SQLText(grantID), in: tables) }
    }

    /// GrantStore.find(grantIDs:): each existing grant once, however often its id is named.
    public func find(grantIDs: [String]) async throws -> [GrantRecord] {
        self.read { tables in Set(grantIDs.map(SQLText.init)).compactMap { Self.grant($0, in: tables) } }
    }

    /// GrantStore.delete.
    public func delete(grantID: String, audit: PendingAudit?) async throws -> Bool {
        try self.change(recording: audit, effective: { $0 }) { tables in
            let id = SQLText(grantID)
            guard let keyID = tables.grantKeys.removeValue(forKey: id) else { return false }
            tables.grants[keyID]?[id] = nil
            return true
        }
    }

    private static func grant(_ id: SQLText, in tables: Tables) -> GrantRecord? {
        tables.grantKeys[id].flatMap { tables.grants[$0]?[id] }
    }

    static func page(_ grants: some Sequence<GrantRecord>, after marker: String?, limit: Int) -> [GrantRecord] {
        let after = SQLText(marker ?? "")
        return grants.filter { SQLText($0.grantID) > after }.sorted { SQLText($0.grantID) < SQLText($1.grantID) }
            .prefix(limit).map { $0 }
    }
}
