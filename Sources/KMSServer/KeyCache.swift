import Crypto
import KMSDomain
import KMSPolicy
import KMSStore
import Synchronization

/// A key with the wrapped material versions it has, as kmsd caches it.
public struct CachedKey: Sendable {
    public let record: KeyRecord
    public let materials: [[UInt8]: StoredMaterial]
    /// The key policy, compiled once per key version.
    public let policy: PolicyDocument
    /// The key's grants, as evaluation needs them.
    public let grants: [KeyAccess.GrantRule]
    public let grantIDs: Set<String>
    /// The key's alias names ("alias/name"), for kms:ResourceAliases.
    public let aliases: [String]
    /// The alias the request named the key by, for kms:RequestAlias (set per request, not cached).
    public var requestAlias: String?
    /// The key's tags, for aws:ResourceTag/<key>.
    public let tags: [String: String]
    /// Set on a provisional AWS managed key (not stored yet; see `KMSService.resolve`): the
    /// alias that names it.
    public var pendingAWSManagedAlias: String?

    public init(record: KeyRecord, materials: [StoredMaterial], grants: [GrantRecord] = [], aliases: [String] = [], tags: [String: String] = [:]) {
        self.record = record
        self.aliases = aliases
        self.tags = tags
        self.materials = Dictionary(materials.map { ($0.materialID, $0) }, uniquingKeysWith: { first, _ in first })
        self.grants = grants.map(Self.rule)
        self.grantIDs = Set(grants.map(\.grantID))
        // Policies are validated before they are stored; one that no longer parses denies
        // everything, grants included (see StoredPolicy).
        self.policy = (try? PolicyDocument.parse(record.policy, kind: .resource)) ?? StoredPolicy.denyAllResource
    }

    public var currentMaterial: StoredMaterial? { self.materials[self.record.currentMaterialID] }

    private init(copying key: CachedKey, grants: [KeyAccess.GrantRule], grantIDs: Set<String>) {
        self.record = key.record
        self.materials = key.materials
        self.policy = key.policy
        self.grants = grants
        self.grantIDs = grantIDs
        self.aliases = key.aliases
        self.requestAlias = key.requestAlias
        self.tags = key.tags
        self.pendingAWSManagedAlias = key.pendingAWSManagedAlias
    }

    /// This key with grants the cache did not have yet (a grant token's), for one request.
    func adding(grants records: [GrantRecord]) -> CachedKey {
        let new = records.filter { !self.grantIDs.contains($0.grantID) }
        return CachedKey(
            copying: self, grants: self.grants + new.map(Self.rule), grantIDs: self.grantIDs.union(new.map(\.grantID))
        )
    }

    static func rule(_ grant: GrantRecord) -> KeyAccess.GrantRule {
        KeyAccess.GrantRule(
            id: grant.grantID, granteePrincipal: grant.granteePrincipal, operations: Set(grant.operations),
            encryptionContextEquals: grant.encryptionContextEquals, encryptionContextSubset: grant.encryptionContextSubset
        )
    }
}

/// Key records, alias targets, principals and SigV4 signing keys, so that the hot path (Encrypt, Decrypt, GenerateDataKey on a
/// known key) makes no database round trip.
///
/// Entries are dropped when PostgreSQL announces a change (LISTEN/NOTIFY, see ChangeListener)
/// and expire after `lifetime` in case a notification is lost. While the listener is not
/// connected nothing is cached at all. A load that started before an invalidation is not
/// stored (the generation check), so a stale read can never outlive the change that made it stale.
public final class KeyCache: Sendable {
    private struct Entry<Value> {
        let value: Value
        let expires: ContinuousClock.Instant
    }

    private struct State {
        var keys: [String: Entry<CachedKey>] = [:]
        var aliases: [String: Entry<String>] = [:]
        var principals: [String: Entry<CachedPrincipal>] = [:]
        var signingKeys: [String: Entry<CachedSigningKey>] = [:]
        /// "key id/grant id" of grant tokens that named no grant of that key.
        var unknownGrants: [String: ContinuousClock.Instant] = [:]
        /// Well-formed access key ids that named no access key.
        var unknownAccessKeys: [String: ContinuousClock.Instant] = [:]
        var generation: UInt64 = 0
        var listening = false
    }

    private let state = Mutex(State())
    private let lifetime: Duration
    private let capacity: Int

    public init(lifetime: Duration = .seconds(30), capacity: Int = 100_000) {
        self.lifetime = lifetime
        self.capacity = capacity
    }

    /// Taken before a load; hand it back to `store` so a load that raced an invalidation is dropped.
    public var generation: UInt64 { self.state.withLock { $0.generation } }

    public func key(_ keyID: String) -> CachedKey? {
        let now = ContinuousClock.now
        let found = self.state.withLock { state -> CachedKey? in
            guard let entry = state.keys[keyID], entry.expires > now else { return nil }
            return entry.value
        }
        (found == nil ? ServiceMetrics.shared.cacheMisses : ServiceMetrics.shared.cacheHits).increment()
        return found
    }

    public func store(_ key: CachedKey, loadedAt generation: UInt64) {
        let expires = ContinuousClock.now + self.lifetime
        self.state.withLock { state in
            guard state.listening, state.generation == generation else { return }
            if state.keys.count >= self.capacity { state.keys.removeAll(keepingCapacity: true) }
            state.keys[key.record.keyID] = Entry(value: key, expires: expires)
        }
    }

    public func aliasTarget(_ aliasKey: String) -> String? {
        let now = ContinuousClock.now
        return self.state.withLock { state in
            guard let entry = state.aliases[aliasKey], entry.expires > now else { return nil }
            return entry.value
        }
    }

    public func storeAlias(_ aliasKey: String, target: String, loadedAt generation: UInt64) {
        let expires = ContinuousClock.now + self.lifetime
        self.state.withLock { state in
            guard state.listening, state.generation == generation else { return }
            if state.aliases.count >= self.capacity { state.aliases.removeAll(keepingCapacity: true) }
            state.aliases[aliasKey] = Entry(value: target, expires: expires)
        }
    }

    public func principal(_ arn: String) -> CachedPrincipal? {
        let now = ContinuousClock.now
        return self.state.withLock { state in
            guard let entry = state.principals[arn], entry.expires > now else { return nil }
            return entry.value
        }
    }

    public func storePrincipal(_ principal: CachedPrincipal, loadedAt generation: UInt64) {
        let expires = ContinuousClock.now + self.lifetime
        self.state.withLock { state in
            guard state.listening, state.generation == generation else { return }
            if state.principals.count >= self.capacity { state.principals.removeAll(keepingCapacity: true) }
            state.principals[principal.arn] = Entry(value: principal, expires: expires)
        }
    }

    /// A SigV4 signing key by "access key id/date/region".
    func signingKey(_ key: String) -> CachedSigningKey? {
        let now = ContinuousClock.now
        return self.state.withLock { state in
            guard let entry = state.signingKeys[key], entry.expires > now else { return nil }
            return entry.value
        }
    }

    func storeSigningKey(_ value: CachedSigningKey, as key: String, loadedAt generation: UInt64) {
        let expires = ContinuousClock.now + self.lifetime
        self.state.withLock { state in
            guard state.listening, state.generation == generation else { return }
            if state.signingKeys.count >= self.capacity { state.signingKeys.removeAll(keepingCapacity: true) }
            state.signingKeys[key] = Entry(value: value, expires: expires)
        }
    }

    /// Whether a grant token's grant id was looked up for this key recently and not found.
    /// Kept even while the change listener is down: it only saves queries, and a grant id is
    /// known to its caller only after the grant has committed, so a real one is never here.
    func isUnknownGrant(_ grantID: String, keyID: String) -> Bool {
        let now = ContinuousClock.now
        return self.state.withLock { state in
            guard let expires = state.unknownGrants["\(keyID)/\(grantID)"] else { return false }
            return expires > now
        }
    }

    func rememberUnknownGrant(_ grantID: String, keyID: String) {
        let expires = ContinuousClock.now + self.lifetime
        self.state.withLock { state in
            if state.unknownGrants.count >= Self.unknownGrantCapacity { state.unknownGrants.removeAll(keepingCapacity: true) }
            state.unknownGrants["\(keyID)/\(grantID)"] = expires
        }
    }

    static let unknownGrantCapacity = 10_000

    /// Whether an access key id was looked up recently and not found: repeating a made-up id
    /// costs no query. Cleared by any change to any access key (one could be imported under it).
    func isUnknownAccessKey(_ accessKeyID: String) -> Bool {
        let now = ContinuousClock.now
        return self.state.withLock { state in
            guard let expires = state.unknownAccessKeys[accessKeyID] else { return false }
            return expires > now
        }
    }

    func rememberUnknownAccessKey(_ accessKeyID: String) {
        let expires = ContinuousClock.now + self.lifetime
        self.state.withLock { state in
            // Only while changes are heard: an access key created meanwhile must work at once.
            guard state.listening else { return }
            if state.unknownAccessKeys.count >= Self.unknownGrantCapacity { state.unknownAccessKeys.removeAll(keepingCapacity: true) }
            state.unknownAccessKeys[accessKeyID] = expires
        }
    }

    /// Any change to a principal (its access keys included) drops its signing keys too: an
    /// access key deleted and imported again under the same id must not keep its old secret.
    public func invalidatePrincipal(_ arn: String) {
        self.state.withLock { state in
            state.generation &+= 1
            state.principals.removeValue(forKey: arn)
            state.signingKeys = state.signingKeys.filter { $0.value.value.principalARN != arn }
            state.unknownAccessKeys.removeAll()
        }
    }

    public func invalidateKey(_ keyID: String) {
        self.state.withLock { state in
            state.generation &+= 1
            state.keys.removeValue(forKey: keyID)
        }
    }

    public func invalidateAlias(_ aliasKey: String) {
        self.state.withLock { state in
            state.generation &+= 1
            state.aliases.removeValue(forKey: aliasKey)
        }
    }

    /// Called when the change listener connects (true) or loses its connection (false).
    public func setListening(_ listening: Bool) {
        self.state.withLock { state in
            state.generation &+= 1
            state.listening = listening
            state.keys.removeAll()
            state.aliases.removeAll()
            state.principals.removeAll()
            state.signingKeys.removeAll()
            state.unknownAccessKeys.removeAll()
        }
    }

    public static func aliasKey(account: String, region: String, name: String) -> String {
        "\(account):\(region):\(name)"
    }
}

/// The SigV4 signing key of one access key for one day and region, and whose key it is.
struct CachedSigningKey: Sendable {
    let principalARN: String
    let key: SymmetricKey
}
