import Crypto
import KMSDomain
import KMSPolicy
import KMSStore
import KMSWorkerProto
import Synchronization

/// A key with the wrapped material versions it has, as kmsd caches it. What the cache holds is
/// one immutable entry, shared by every request that uses the key: a request's copy of a
/// `CachedKey` is that reference and its own two fields, where a copy of the whole (some twenty
/// references, about half a kilobyte) was a memmove and a retain and release of each, several
/// times a request as the key passed between async functions.
public struct CachedKey: Sendable {
    /// What every request using the key shares.
    final class Entry: Sendable {
        let record: KeyRecord
        let materials: [MaterialID: StoredMaterial]
        let policy: PolicyDocument
        let grants: [KeyAccess.GrantRule]
        let grantIDs: Set<String>
        let aliases: [String]
        let tags: [String: String]
        let currentWorkerKey: WorkerKeyRef?

        init(
            record: KeyRecord, materials: [MaterialID: StoredMaterial], policy: PolicyDocument,
            grants: [KeyAccess.GrantRule], grantIDs: Set<String>, aliases: [String], tags: [String: String]
        ) {
            self.record = record
            self.materials = materials
            self.policy = policy
            self.grants = grants
            self.grantIDs = grantIDs
            self.aliases = aliases
            self.tags = tags
            self.currentWorkerKey = record.currentMaterialID.flatMap { materials[$0] }.map {
                WorkerKeyRef(record, material: $0)
            }
        }
    }

    private var entry: Entry
    /// The alias the request named the key by, for kms:RequestAlias (set per request, not cached).
    public var requestAlias: String?
    /// Set on a provisional AWS managed key (not stored yet; see `KMSService.resolve`): the
    /// alias that names it.
    public var pendingAWSManagedAlias: String?

    /// The key as stored when loaded.
    public var record: KeyRecord { self.entry.record }
    /// The key's wrapped material versions, by material id bytes.
    public var materials: [MaterialID: StoredMaterial] { self.entry.materials }
    /// The key policy, compiled once per key version.
    public var policy: PolicyDocument { self.entry.policy }
    /// The key's grants, as evaluation needs them.
    public var grants: [KeyAccess.GrantRule] { self.entry.grants }
    /// The ids of `grants`, so a grant token naming one of them needs no query.
    public var grantIDs: Set<String> { self.entry.grantIDs }
    /// The key's alias names ("alias/name"), for kms:ResourceAliases.
    public var aliases: [String] { self.entry.aliases }
    /// The key's tags, for aws:ResourceTag/<key>.
    public var tags: [String: String] { self.entry.tags }
    /// The key and its current material as kms-cryptod is told them, made once per cached key:
    /// made per request it was about six allocations of kmsd's (the key id's text, the material
    /// id and wrapped bytes as Data), for about 0.4 KiB a key kept here.
    var currentWorkerKey: WorkerKeyRef? { self.entry.currentWorkerKey }

    /// A key as loaded. A policy that no longer parses becomes one that denies everything. With
    /// `policies`, the parsed policy and its text are those every key with the same text shares.
    public init(
        record: KeyRecord, materials: [StoredMaterial], grants: [GrantRecord] = [], aliases: [String] = [],
        tags: [String: String] = [:], policies: ParsedPolicies? = nil
    ) {
        // One that no longer parses denies everything, grants included (ParsedPolicies.unshared).
        var record = record
        let policy: PolicyDocument
        if let shared = policies?.stored(record.policy, kind: .resource) {
            record.policy = shared.text
            policy = shared.document
        } else {
            policy = ParsedPolicies.unshared(record.policy, kind: .resource)
        }
        self.entry = Entry(
            record: record,
            materials: Dictionary(materials.map { ($0.materialID, $0) }, uniquingKeysWith: { first, _ in first }),
            policy: policy, grants: grants.map(Self.rule), grantIDs: Set(grants.map(\.grantID)), aliases: aliases,
            tags: tags)
    }

    /// A key just created, with no grants or aliases yet, and its policy as CreateKey parsed it
    /// (`policy` is `record.policy`'s document; the default policy is parsed once per account, and
    /// a second parse per key would be CPU spent on every CreateKey).
    init(created record: KeyRecord, policy: PolicyDocument, material: StoredMaterial?, tags: [String: String]) {
        self.entry = Entry(
            record: record, materials: material.map { [$0.materialID: $0] } ?? [:], policy: policy, grants: [],
            grantIDs: [], aliases: [], tags: tags)
    }

    /// A key's tags as stored (pairs in key order) by key, as evaluation reads them.
    static func tagMap(_ pairs: [(key: String, value: String)]) -> [String: String] {
        Dictionary(pairs.map { ($0.key, $0.value) }, uniquingKeysWith: { first, _ in first })
    }

    /// The material Encrypt uses; nil for a key without material (an EXTERNAL key before its import).
    public var currentMaterial: StoredMaterial? { self.record.currentMaterialID.flatMap { self.materials[$0] } }

    /// This key with grants the cache did not have yet (a grant token's), for one request.
    func adding(grants records: [GrantRecord]) -> CachedKey {
        let new = records.filter { !self.grantIDs.contains($0.grantID) }
        var key = self
        key.entry = Entry(
            record: self.record, materials: self.materials, policy: self.policy,
            grants: self.grants + new.map(Self.rule), grantIDs: self.grantIDs.union(new.map(\.grantID)),
            aliases: self.aliases, tags: self.tags)
        return key
    }

    static func rule(_ grant: GrantRecord) -> KeyAccess.GrantRule {
        KeyAccess.GrantRule(
            id: grant.grantID, granteePrincipal: grant.granteePrincipal, operations: Set(grant.operations),
            encryptionContextEquals: grant.encryptionContextEquals,
            encryptionContextSubset: grant.encryptionContextSubset
        )
    }
}

/// The key cache's decisions, as a value (KeyCache holds it under a lock and reads the clock):
/// what is cached until when, and which loads may still be stored. Entries live `lifetime` on
/// the monotonic clock, so a wall-clock step neither expires them early nor keeps them longer.
struct KeyCacheState: Sendable {
    struct Entry<Value: Sendable>: Sendable {
        let value: Value
        let expires: ContinuousClock.Instant
    }

    let lifetime: Duration
    let capacity: Int
    var keys: [KeyID: Entry<CachedKey>] = [:]
    var aliases: [String: Entry<KeyID>] = [:]
    var principals: [String: Entry<CachedPrincipal>] = [:]
    var signingKeys: [String: Entry<CachedSigningKey>] = [:]
    /// "key id/grant id" of grant tokens that named no grant of that key.
    private(set) var unknownGrants: [String: ContinuousClock.Instant] = [:]
    /// Well-formed access key ids that named no access key.
    private(set) var unknownAccessKeys: [String: ContinuousClock.Instant] = [:]
    /// Moves on every invalidation: a load taken at an older generation is not stored.
    private(set) var generation: UInt64 = 0
    private(set) var listening = false

    init(lifetime: Duration, capacity: Int) {
        self.lifetime = lifetime
        self.capacity = capacity
    }

    static let unknownCapacity = 10_000

    /// `entry`'s value if it is still live at `now`. Callers read their table directly: reading
    /// it through a key path copied the whole state (every table retained) on each lookup.
    static func live<Value>(_ entry: Entry<Value>?, at now: ContinuousClock.Instant) -> Value? {
        guard let entry, entry.expires > now else { return nil }
        return entry.value
    }

    /// Stores a load made at `generation` unless an invalidation came since or no changes are
    /// heard; a full table is emptied first (cheaper than choosing victims). Whether it was stored.
    @discardableResult
    mutating func store<ID: Hashable, Value>(
        _ table: WritableKeyPath<KeyCacheState, [ID: Entry<Value>]>, _ id: ID, _ value: Value,
        loadedAt generation: UInt64, at now: ContinuousClock.Instant
    ) -> Bool {
        guard self.listening, self.generation == generation else { return false }
        if self[keyPath: table].count >= self.capacity { self[keyPath: table].removeAll(keepingCapacity: true) }
        self[keyPath: table][id] = Entry(value: value, expires: now + self.lifetime)
        return true
    }

    func isUnknownGrant(_ id: String, at now: ContinuousClock.Instant) -> Bool {
        self.unknownGrants[id].map { $0 > now } ?? false
    }

    /// Kept even while the change listener is down: it only saves queries, and a grant id is
    /// known to its caller only after the grant has committed, so a real one is never here.
    mutating func rememberUnknownGrant(_ id: String, at now: ContinuousClock.Instant) {
        if self.unknownGrants.count >= Self.unknownCapacity { self.unknownGrants.removeAll(keepingCapacity: true) }
        self.unknownGrants[id] = now + self.lifetime
    }

    func isUnknownAccessKey(_ id: String, at now: ContinuousClock.Instant) -> Bool {
        self.unknownAccessKeys[id].map { $0 > now } ?? false
    }

    /// Only while changes are heard: an access key created meanwhile must work at once.
    mutating func rememberUnknownAccessKey(_ id: String, at now: ContinuousClock.Instant) {
        guard self.listening else { return }
        if self.unknownAccessKeys.count >= Self.unknownCapacity {
            self.unknownAccessKeys.removeAll(keepingCapacity: true)
        }
        self.unknownAccessKeys[id] = now + self.lifetime
    }

    /// Any change to a principal (its access keys included) drops its signing keys too: an
    /// access key deleted and imported again under the same id must not keep its old secret.
    mutating func invalidatePrincipal(_ arn: String) {
        self.generation &+= 1
        self.principals.removeValue(forKey: arn)
        self.signingKeys = self.signingKeys.filter { $0.value.value.principalARN != arn }
        self.unknownAccessKeys.removeAll()
    }

    mutating func invalidateKey(_ keyID: KeyID) {
        self.generation &+= 1
        self.keys.removeValue(forKey: keyID)
        // A multi-Region key's change can change its other Regions' rows in the same transaction
        // (a rotation is every replica's): drop those here too, not only when their NOTIFY comes.
        // Their ids are collected first: filtering the table would copy every cached key under
        // the lock for what is a few entries.
        if keyID.isMultiRegion {
            let family = keyID.publicID
            for id in self.keys.keys.filter({ $0.publicID == family }) { self.keys.removeValue(forKey: id) }
        }
    }

    mutating func invalidateAlias(_ aliasKey: String) {
        self.generation &+= 1
        self.aliases.removeValue(forKey: aliasKey)
    }

    /// The change listener connected (true) or lost its connection (false): either way what
    /// is cached may have missed a change.
    mutating func setListening(_ listening: Bool) {
        self.generation &+= 1
        self.listening = listening
        self.keys.removeAll()
        self.aliases.removeAll()
        self.principals.removeAll()
        self.signingKeys.removeAll()
        self.unknownAccessKeys.removeAll()
    }
}

/// Key records, alias targets, principals and SigV4 signing keys, so that the hot path (Encrypt, Decrypt,
/// GenerateDataKey on a known key) makes no database round trip.
///
/// Entries are dropped when PostgreSQL announces a change (LISTEN/NOTIFY, see ChangeListener)
/// and expire after `lifetime` in case a notification is lost. While the listener is not
/// connected nothing is cached at all. A load that started before an invalidation is not
/// stored (the generation check), so a stale read can never outlive the change that made it stale.
/// The decisions are KeyCacheState's; this holds it and reads the clock.
public final class KeyCache: Sendable {
    private let state: Mutex<KeyCacheState>
    private let clock: ServiceClock
    private let metrics: ServiceMetrics
    /// The proxy clients of external key stores, kept by the same rules as the keys.
    public let xksClients: XKSClientCache
    /// The rows of AWS_CLOUDHSM stores, kept by the same rules.
    public let tokenStores: TokenStoreCache
    /// Key and identity policies parsed once per text, shared by the keys and principals cached here.
    public let policies = ParsedPolicies()

    /// An empty cache; it stores nothing until the change listener says it is listening.
    public init(
        lifetime: Duration = .seconds(30), capacity: Int = 100_000, clock: ServiceClock = .system,
        metrics: ServiceMetrics = ServiceMetrics()
    ) {
        self.state = Mutex(KeyCacheState(lifetime: lifetime, capacity: capacity))
        self.xksClients = XKSClientCache(lifetime: lifetime, clock: clock)
        self.tokenStores = TokenStoreCache(lifetime: lifetime, clock: clock)
        self.clock = clock
        self.metrics = metrics
    }

    /// Taken before a load; hand it back to `store` so a load that raced an invalidation is dropped.
    public var generation: UInt64 { self.state.withLock { $0.generation } }

    /// The cached key `keyID`, or nil when absent or expired (counted as a hit or a miss).
    public func key(_ keyID: KeyID) -> CachedKey? {
        let now = self.clock.now
        let found = self.state.withLock { KeyCacheState.live($0.keys[keyID], at: now) }
        (found == nil ? self.metrics.cacheMisses : self.metrics.cacheHits).increment()
        return found
    }

    /// Caches `key` unless an invalidation came since `generation` was taken.
    public func store(_ key: CachedKey, loadedAt generation: UInt64) {
        let now = self.clock.now
        self.state.withLock { _ = $0.store(\.keys, key.record.keyID, key, loadedAt: generation, at: now) }
    }

    /// The key id an alias (by `aliasKey(account:region:name:)`) points to, when cached.
    public func aliasTarget(_ aliasKey: String) -> KeyID? {
        let now = self.clock.now
        return self.state.withLock { KeyCacheState.live($0.aliases[aliasKey], at: now) }
    }

    /// Caches an alias's target unless an invalidation came since `generation` was taken.
    public func storeAlias(_ aliasKey: String, target: KeyID, loadedAt generation: UInt64) {
        let now = self.clock.now
        self.state.withLock { _ = $0.store(\.aliases, aliasKey, target, loadedAt: generation, at: now) }
    }

    /// The cached principal with ARN `arn`, or nil when absent or expired.
    public func principal(_ arn: String) -> CachedPrincipal? {
        let now = self.clock.now
        return self.state.withLock { KeyCacheState.live($0.principals[arn], at: now) }
    }

    /// Caches `principal` unless an invalidation came since `generation` was taken.
    public func storePrincipal(_ principal: CachedPrincipal, loadedAt generation: UInt64) {
        let now = self.clock.now
        self.state.withLock { _ = $0.store(\.principals, principal.arn, principal, loadedAt: generation, at: now) }
    }

    /// A SigV4 signing key by "access key id/date/region".
    func signingKey(_ key: String) -> CachedSigningKey? {
        let now = self.clock.now
        return self.state.withLock { KeyCacheState.live($0.signingKeys[key], at: now) }
    }

    func storeSigningKey(_ value: CachedSigningKey, as key: String, loadedAt generation: UInt64) {
        let now = self.clock.now
        self.state.withLock { _ = $0.store(\.signingKeys, key, value, loadedAt: generation, at: now) }
    }

    /// Whether a grant token's grant id was looked up for this key recently and not found.
    func isUnknownGrant(_ grantID: String, keyID: KeyID) -> Bool {
        let now = self.clock.now
        return self.state.withLock { $0.isUnknownGrant("\(keyID)/\(grantID)", at: now) }
    }

    func rememberUnknownGrant(_ grantID: String, keyID: KeyID) {
        let now = self.clock.now
        self.state.withLock { $0.rememberUnknownGrant("\(keyID)/\(grantID)", at: now) }
    }

    /// Whether an access key id was looked up recently and not found: repeating a made-up id
    /// costs no query. Cleared by any change to any access key (one could be imported under it).
    func isUnknownAccessKey(_ accessKeyID: String) -> Bool {
        let now = self.clock.now
        return self.state.withLock { $0.isUnknownAccessKey(accessKeyID, at: now) }
    }

    func rememberUnknownAccessKey(_ accessKeyID: String) {
        let now = self.clock.now
        self.state.withLock { $0.rememberUnknownAccessKey(accessKeyID, at: now) }
    }

    /// Drops the principal, its cached signing keys and the remembered unknown access key ids.
    public func invalidatePrincipal(_ arn: String) {
        self.state.withLock { $0.invalidatePrincipal(arn) }
    }

    /// Drops the key `keyID` (and a multi-Region key's copies in other Regions); loads begun
    /// before are not stored.
    public func invalidateKey(_ keyID: KeyID) {
        self.state.withLock { $0.invalidateKey(keyID) }
    }

    /// Drops the alias `aliasKey`; loads begun before are not stored.
    public func invalidateAlias(_ aliasKey: String) {
        self.state.withLock { $0.invalidateAlias(aliasKey) }
    }

    /// Called when the change listener connects (true) or loses its connection (false).
    public func setListening(_ listening: Bool) {
        self.state.withLock { $0.setListening(listening) }
        self.xksClients.setListening(listening)
        self.tokenStores.setListening(listening)
    }

    /// Drops what is cached of custom key store `id` (its XKS client, its token's row): it changed.
    public func invalidateCustomKeyStore(_ id: CustomKeyStoreID) {
        self.xksClients.invalidate(id)
        self.tokenStores.invalidate(id)
    }

    /// The cache key of an alias: `account:region:alias/name`, as the database's change notifications send it.
    public static func aliasKey(account: String, region: String, name: String) -> String {
        "\(account):\(region):\(name)"
    }
}

/// The SigV4 signing key of one access key for one day and region, and whose key it is.
struct CachedSigningKey: Sendable {
    let principalARN: String
    let key: SymmetricKey
}
