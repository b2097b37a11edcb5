import Foundation
import KMSDomain
import KMSStore

/// The in-memory database's tables, one property per PostgreSQL table the ports reach. Rows are
/// stored as PostgreSQL returns them: timestamps truncated to microseconds.
struct Tables {
    /// kms_keys, by key id.
    var keys: [KeyID: KeyRecord] = [:]
    /// kms_key_materials: per key, in insertion order (the SELECT has no ORDER BY).
    var materials: [KeyID: [MaterialRow]] = [:]
    /// kms_imported_materials: per key, in no particular order (the SELECT orders them).
    var importedMaterials: [KeyID: [ImportedMaterial]] = [:]
    /// kms_aliases, by (account, region, name).
    var aliases: [AliasName: AliasRow] = [:]
    /// kms_grants, per key and by grant id; `grantKeys` finds a grant's key.
    var grants: [KeyID: [SQLText: GrantRecord]] = [:]
    var grantKeys: [SQLText: KeyID] = [:]
    /// kms_key_rotations, per key.
    var rotations: [KeyID: [RotationRecord]] = [:]
    /// kms_tags, per key, by tag key.
    var tags: [KeyID: [SQLText: String]] = [:]
    /// kms_key_last_usage.
    var lastUsage: [KeyID: KeyUsageRecord] = [:]
    /// kms_usage, by (account, key ARN, operation, hour).
    var usage: [UsageRow: UsageCount] = [:]
    /// kms_usage_flushes: id → when it was added.
    var usageFlushes: [UUID: Date] = [:]
    /// kms_deleted_keys, by ARN.
    var deletedKeys: [SQLText: InMemoryDatabase.DeletedKey] = [:]
    /// kms_accounts, by id.
    var accounts: [SQLText: AccountRecord] = [:]
    /// kms_principals, by ARN.
    var principals: [SQLText: PrincipalRecord] = [:]
    /// kms_access_keys, in insertion order (ties of `creation_date` keep it).
    var accessKeys: [AccessKeyRow] = []
    /// kms_identity_policies, per principal ARN, by policy name.
    var identityPolicies: [SQLText: [SQLText: String]] = [:]
    /// kms_rewrap_jobs, by job id; `rewrapJobSequence` is its bigserial's last value (an insert
    /// that conflicts still takes one, as nextval does).
    var rewrapJobs: [Int64: RewrapJobRow] = [:]
    var rewrapJobSequence: Int64 = 0
    /// Whether RewrapStore's session advisory lock is held.
    var rewrapLockHeld = false
    /// kms_audit_pending: the records committed with their changes.
    var outbox: [PendingAudit] = []
    /// kms_audit_segments, in segment id order; `auditSegmentSequence` is its bigserial's last value.
    var auditSegments: [AuditSegmentRow] = []
    var auditSegmentSequence: Int64 = 0
    /// kms_audit_chains: each chain's head row.
    var auditHeads: [SQLText: AuditStore.Head] = [:]
    /// kms_audit_checkpoints, per chain, in number order.
    var auditCheckpoints: [SQLText: [AuditStore.Checkpoint]] = [:]
    /// When migration 5 ran (LastUsageStore.trackingStart): the database's creation.
    let trackingStart: Date

    init(trackingStart: Date) { self.trackingStart = trackingStart }

    struct MaterialRow {
        var material: StoredMaterial
        var createdAt: Date
    }

    struct AliasName: Hashable {
        var account: SQLText
        var region: SQLText
        var name: SQLText

        init(_ account: String, _ region: String, _ name: String) {
            (self.account, self.region, self.name) = (SQLText(account), SQLText(region), SQLText(name))
        }
    }

    struct AliasRow {
        var targetKeyID: KeyID
        var creationDate: Date
        var lastUpdatedDate: Date
    }

    struct AccessKeyRow {
        var key: AccessKeyRecord
        var rootKeyID: UUID
    }

    struct RewrapJobRow {
        var job: RewrapStore.Job
        var requestedBy: String
    }

    struct UsageRow: Hashable {
        var account: SQLText
        var keyARN: SQLText
        var operation: SQLText
        var hour: Date
    }

    /// Deletes a key and what hangs off it (ON DELETE CASCADE on every table that names it).
    mutating func deleteKey(_ id: KeyID) {
        self.keys[id] = nil
        self.materials[id] = nil
        self.importedMaterials[id] = nil
        self.aliases = self.aliases.filter { $0.value.targetKeyID != id }
        for grantID in (self.grants.removeValue(forKey: id) ?? [:]).keys { self.grantKeys[grantID] = nil }
        self.rotations[id] = nil
        self.tags[id] = nil
        self.lastUsage[id] = nil
    }

    /// A foreign key to kms_keys: the referenced key must exist.
    func requireKey(_ id: KeyID, for table: String) throws {
        guard self.keys[id] != nil else {
            throw InMemoryDatabase.Refused("insert or update on \(table) violates its foreign key to kms_keys")
        }
    }
}
