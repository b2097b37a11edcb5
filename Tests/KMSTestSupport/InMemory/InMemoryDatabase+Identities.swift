import Foundation
import KMSDomain
import KMSServer
import KMSStore

/// Accounts, principals, access keys and identity policies as IdentityStore changes them: a
/// principal names an existing account, its access keys and policies go with it (ON DELETE
/// CASCADE), and the per-principal limits are counted in the same step as the insert (the
/// store's `FOR UPDATE` on the principal's row).
extension InMemoryDatabase: IdentityStoring {
    /// IdentityStore.insertAccount: the account row, then the root principal's INSERT ... ON
    /// CONFLICT DO NOTHING, whose answer the store ignores (a root ARN already taken leaves the
    /// account without its own root principal, as there).
    public func insertAccount(_ account: AccountRecord, root: PrincipalRecord, audit: PendingAudit?) async throws
        -> Bool
    {
        try self.change(recording: audit, effective: { $0 }) { tables in
            guard Self.isAccountID(account.accountID) else {
                throw Refused("kms_accounts.account_id violates its check constraint")
            }
            let id = SQLText(account.accountID)
            guard tables.accounts[id] == nil else { return false }
            var inserted = account
            inserted.creationDate = SQL.timestamptz(account.creationDate)
            var changed = tables
            changed.accounts[id] = inserted
            _ = try changed.insertPrincipal(root)
            tables = changed
            return true
        }
    }

    /// IdentityStore.accounts.
    public func accounts() async throws -> [AccountRecord] {
        self.read { tables in
            tables.accounts.sorted { $0.key < $1.key }.prefix(1000).map(\.value)
        }
    }

    /// IdentityStore.account.
    public func account(_ id: String) async throws -> AccountRecord? {
        self.read { $0.accounts[SQLText(id)] }
    }

    /// IdentityStore.insertPrincipal.
    public func insertPrincipal(_ principal: PrincipalRecord, audit: PendingAudit?) async throws -> Bool {
        try self.change(recording: audit, effective: { $0 }) { try $0.insertPrincipal(principal) }
    }

    /// IdentityStore.principal.
    public func principal(_ arn: String) async throws -> PrincipalRecord? {
        self.read { $0.principals[SQLText(arn)] }
    }

    /// IdentityStore.principals: by ARN, at most 1000.
    public func principals(account: String) async throws -> [PrincipalRecord] {
        self.read { tables in
            tables.principals.filter { SQLText($0.value.accountID) == SQLText(account) }
                .sorted { $0.key < $1.key }.prefix(1000).map(\.value)
        }
    }

    /// IdentityStore.deletePrincipal, with the cascade to its access keys and policies.
    public func deletePrincipal(_ arn: String, audit: PendingAudit?) async throws -> Bool {
        try self.change(recording: audit, effective: { $0 }) { tables in
            let arn = SQLText(arn)
            guard tables.principals.removeValue(forKey: arn) != nil else { return false }
            tables.accessKeys.removeAll { SQLText($0.key.principalARN) == arn }
            tables.identityPolicies[arn] = nil
            return true
        }
    }

    /// IdentityStore.hasAdminWithAccessKey.
    public func hasAdminWithAccessKey() async throws -> Bool {
        self.read { tables in
            tables.accessKeys.contains { tables.principals[SQLText($0.key.principalARN)]?.isAdmin == true }
        }
    }

    /// IdentityStore.insertAccessKey: the count first (a principal that does not exist has
    /// none), then the INSERT, whose foreign key refuses an unknown principal.
    public func insertAccessKey(_ key: AccessKeyRecord, rootKeyID: UUID, audit: PendingAudit?) async throws
        -> IdentityStore.AccessKeyInsert
    {
        try self.change(recording: audit, effective: { $0 == .inserted }) { tables in
            let principal = SQLText(key.principalARN)
            let count = tables.accessKeys.count { SQLText($0.key.principalARN) == principal }
            guard count < AccessKeyRecord.maximumPerPrincipal else { return .limitReached }
            guard !tables.accessKeys.contains(where: { SQLText($0.key.accessKeyID) == SQLText(key.accessKeyID) })
            else { return .duplicateID }
            try tables.requirePrincipal(key.principalARN, for: "kms_access_keys")
            var stored = key
            stored.creationDate = SQL.timestamptz(key.creationDate)
            tables.accessKeys.append(Tables.AccessKeyRow(key: stored, rootKeyID: rootKeyID))
            return .inserted
        }
    }

    /// IdentityStore.accessKey.
    public func accessKey(_ id: String) async throws -> AccessKeyRecord? {
        self.read { tables in
            tables.accessKeys.first { SQLText($0.key.accessKeyID) == SQLText(id) }?.key
        }
    }

    /// IdentityStore.accessKeys: oldest first (a stable sort keeps ties in insertion order).
    public func accessKeys(of principalARN: String) async throws -> [AccessKeyRecord] {
        self.read { tables in
            tables.accessKeys.map(\.key).filter { SQLText($0.principalARN) == SQLText(principalARN) }
                .sorted { $0.creationDate < $1.creationDate }
        }
    }

    /// IdentityStore.setAccessKeyStatus.
    public func setAccessKeyStatus(_ id: String, _ status: AccessKeyRecord.Status, audit: PendingAudit?) async throws
        -> Bool
    {
        try self.change(recording: audit, effective: { $0 }) { tables in
            guard let index = tables.accessKeys.firstIndex(where: { SQLText($0.key.accessKeyID) == SQLText(id) })
            else { return false }
            tables.accessKeys[index].key.status = status
            return true
        }
    }

    /// IdentityStore.deleteAccessKey.
    public func deleteAccessKey(_ id: String, audit: PendingAudit?) async throws -> Bool {
        try self.change(recording: audit, effective: { $0 }) { tables in
            guard let index = tables.accessKeys.firstIndex(where: { SQLText($0.key.accessKeyID) == SQLText(id) })
            else { return false }
            tables.accessKeys.remove(at: index)
            return true
        }
    }

    /// IdentityStore.putPolicy: the principal's other policies counted, then INSERT ... ON
    /// CONFLICT DO UPDATE, whose foreign key refuses an unknown principal.
    public func putPolicy(_ policy: IdentityPolicyRecord, audit: PendingAudit?) async throws
        -> IdentityStore.PolicyPut
    {
        try self.change(recording: audit, effective: { $0 == .stored }) { tables in
            let principal = SQLText(policy.principalARN)
            let name = SQLText(policy.name)
            let others = (tables.identityPolicies[principal] ?? [:]).keys.count { $0 != name }
            guard others < IdentityPolicyRecord.maximumPerPrincipal else { return .limitReached }
            try tables.requirePrincipal(policy.principalARN, for: "kms_identity_policies")
            tables.identityPolicies[principal, default: [:]][name] = policy.document
            return .stored
        }
    }

    /// IdentityStore.policies: by name.
    public func policies(of principalARN: String) async throws -> [IdentityPolicyRecord] {
        self.read { tables in
            (tables.identityPolicies[SQLText(principalARN)] ?? [:]).sorted { $0.key < $1.key }.map {
                IdentityPolicyRecord(principalARN: principalARN, name: $0.key.value, document: $0.value)
            }
        }
    }

    /// IdentityStore.deletePolicy.
    public func deletePolicy(principalARN: String, name: String, audit: PendingAudit?) async throws -> Bool {
        try self.change(recording: audit, effective: { $0 }) { tables in
            let principal = SQLText(principalARN)
            guard tables.identityPolicies[principal]?.removeValue(forKey: SQLText(name)) != nil else { return false }
            if tables.identityPolicies[principal]?.isEmpty == true { tables.identityPolicies[principal] = nil }
            return true
        }
    }

    /// kms_accounts' CHECK: twelve ASCII digits.
    static func isAccountID(_ id: String) -> Bool {
        id.utf8.count == 12 && id.utf8.allSatisfy { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }
    }
}

extension Tables {
    /// INSERT INTO kms_principals ... ON CONFLICT DO NOTHING: false when the ARN is taken; the
    /// foreign key refuses an unknown account.
    mutating func insertPrincipal(_ principal: PrincipalRecord) throws -> Bool {
        let arn = SQLText(principal.arn)
        guard self.principals[arn] == nil else { return false }
        guard self.accounts[SQLText(principal.accountID)] != nil else {
            throw InMemoryDatabase.Refused("insert on kms_principals violates its foreign key to kms_accounts")
        }
        var stored = principal
        stored.creationDate = SQL.timestamptz(principal.creationDate)
        self.principals[arn] = stored
        return true
    }

    /// A foreign key to kms_principals: the referenced principal must exist.
    func requirePrincipal(_ arn: String, for table: String) throws {
        guard self.principals[SQLText(arn)] != nil else {
            throw InMemoryDatabase.Refused("insert on \(table) violates its foreign key to kms_principals")
        }
    }
}
