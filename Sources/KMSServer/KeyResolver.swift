import KMSCrypto
import KMSDomain
import KMSStore

extension KMSService {
    /// The one place a KeyId becomes a key: key id, key ARN, alias name or alias ARN, in the
    /// caller's account and region, from the cache when possible.
    func resolve(_ text: String, for caller: Caller, accepting accepted: KeyReference.Accepted = .keyOrAlias, field: String = "keyId") async throws(KMSError) -> CachedKey {
        let reference = try KeyReference.parse(text, accepting: accepted, field: field)
        switch reference {
        case .keyID(let id):
            return try await self.loadKey(id, named: text)
        case .keyARN(let arn):
            try self.checkScope(arn, caller: caller, text: text)
            guard case .key(let id) = arn.resource else { throw Self.notFound(text) }
            return try await self.loadKey(id, named: text)
        case .aliasName(let name):
            var key = try await self.loadAlias(account: caller.account, region: caller.region, name: name, text: text)
            key.requestAlias = name
            return key
        case .aliasARN(let arn):
            try self.checkScope(arn, caller: caller, text: text)
            guard case .alias(let name) = arn.resource else { throw Self.notFound(text) }
            var key = try await self.loadAlias(account: arn.account, region: arn.region, name: name, text: text)
            key.requestAlias = name
            return key
        }
    }

    /// A key by id, whatever its account: callers must still pass `authorize`.
    func loadKey(_ keyID: String, named text: String) async throws(KMSError) -> CachedKey {
        if let cached = self.cache.key(keyID) { return cached }
        let generation = self.cache.generation
        guard let (record, materials) = try await self.store({ try await self.keys.fetch(keyID: keyID) }) else {
            throw Self.notFound(text)
        }
        let grants = try await self.store { try await self.grants.forKey(keyID) }
        let aliases = try await self.store {
            try await self.aliases.list(account: record.account, region: record.region, keyID: keyID, after: nil, limit: 1000)
        }
        let tags = try await self.store { try await self.rotations.tags(keyID: keyID) }
        let key = CachedKey(
            record: record, materials: materials, grants: grants, aliases: aliases.map(\.name),
            tags: Dictionary(tags.map { ($0.key, $0.value) }, uniquingKeysWith: { first, _ in first })
        )
        self.cache.store(key, loadedAt: generation)
        return key
    }

    /// A grant token makes its grant count at once, even before this kmsd has heard of it:
    /// a key whose cached grants miss a token's grant is read again.
    func freshen(_ key: CachedKey, grantTokens: [String]) async throws(KMSError) -> CachedKey {
        let named = grantTokens.compactMap(GrantToken.grantID(from:))
        guard named.contains(where: { !key.grantIDs.contains($0) }) else { return key }
        return try await self.reloadKey(key.record.keyID)
    }

    /// Drops a key from the cache and reads it again (after a change of our own, or when a
    /// ciphertext names material the cached copy does not have yet).
    func reloadKey(_ keyID: String) async throws(KMSError) -> CachedKey {
        self.cache.invalidateKey(keyID)
        return try await self.loadKey(keyID, named: keyID)
    }

    private func loadAlias(account: String, region: String, name: String, text: String) async throws(KMSError) -> CachedKey {
        let aliasKey = KeyCache.aliasKey(account: account, region: region, name: name)
        if let target = self.cache.aliasTarget(aliasKey) {
            return try await self.loadKey(target, named: text)
        }
        let generation = self.cache.generation
        if let alias = try await self.store({ try await self.aliases.find(account: account, region: region, name: name) }) {
            self.cache.storeAlias(aliasKey, target: alias.targetKeyID, loadedAt: generation)
            return try await self.loadKey(alias.targetKeyID, named: text)
        }
        // alias/aws/<service> names the account's AWS managed key, which exists once named.
        if let service = Self.awsManagedService(name), self.scope.regions.contains(region) {
            let keyID = try await self.createAWSManagedKey(account: account, region: region, aliasName: name, service: service)
            return try await self.loadKey(keyID, named: text)
        }
        throw KMSError(.notFound, "Alias \(self.scope.aliasARN(account: account, region: region, name: name)) is not found.")
    }

    private func checkScope(_ arn: KMSResourceARN, caller: Caller, text: String) throws(KMSError) {
        guard arn.partition == self.scope.partition, self.scope.regions.contains(arn.region) else {
            throw Self.notFound(text)
        }
    }

    static func notFound(_ text: String) -> KMSError {
        KMSError(.notFound, "Key '\(text.prefix(2048))' does not exist")
    }
}
