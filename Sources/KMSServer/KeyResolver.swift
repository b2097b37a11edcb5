import KMSCrypto
import KMSDomain
import KMSStore

extension KMSService {
    /// The one place a KeyId becomes a key: key id, key ARN, alias name or alias ARN, from the
    /// cache when possible. As at AWS, a bare key id or alias name names a key of the caller's
    /// own account and region; another account's key needs its key ARN or alias ARN; and every
    /// key is regional: an ARN of another region than the caller's is not found.
    ///
    /// `creatingAWSManaged`: an operation that may be the first use of `alias/aws/<service>`
    /// gets a provisional key (nothing written) that `authorizedUse` creates once the caller
    /// is authorized; everywhere else such an alias is simply not found until it exists.
    func resolve(
        _ text: String, for caller: Caller, accepting accepted: KeyReference.Accepted = .keyOrAlias,
        field: String = "keyId",
        creatingAWSManaged: Bool = false
    ) async throws(KMSError) -> CachedKey {
        let reference: KeyReference
        do {
            reference = try KeyReference.parse(text, accepting: accepted, field: field)
        } catch  where error.code == .invalidArn && !Self.operationsWithInvalidArn.contains(caller.operation) {
            // AWS's model lists InvalidArnException for the operations on one key by ARN; the
            // others (Encrypt, Sign, CreateAlias, ...) answer NotFoundException.
            throw KMSError(.notFound, error.message)
        }
        switch reference {
        case .keyID(let id):
            // AWS names a missing key by the ARN the id would have in the caller's account and
            // region (made only then: most requests find their key).
            let named = { self.scope.keyARN(account: caller.account, region: caller.region, keyID: id) }
            // A multi-Region id names the related key of the caller's region (its own row id).
            let key = try await self.loadKey(id.inRegion(caller.region), named: named())
            guard key.record.account == caller.account, key.record.region == caller.region else {
                throw Self.notFound(named())
            }
            return key
        case .keyARN(let arn):
            try self.checkScope(arn, caller: caller, text: text)
            guard case .key(let id) = arn.resource else { throw Self.notFound(text) }
            let key = try await self.loadKey(id.inRegion(arn.region), named: text)
            // The ARN must be the key's own: a real key id under another account's ARN is not that key.
            guard key.record.account == arn.account, key.record.region == arn.region else { throw Self.notFound(text) }
            return key
        case .aliasName(let name):
            var key = try await self.loadAlias(
                account: caller.account, region: caller.region, name: name, text: text, caller: caller,
                creatingAWSManaged: creatingAWSManaged
            )
            key.requestAlias = name
            return key
        case .aliasARN(let arn):
            try self.checkScope(arn, caller: caller, text: text)
            guard case .alias(let name) = arn.resource else { throw Self.notFound(text) }
            var key = try await self.loadAlias(
                account: arn.account, region: arn.region, name: name, text: text, caller: caller,
                creatingAWSManaged: creatingAWSManaged
            )
            key.requestAlias = name
            return key
        }
    }

    /// Authorizes `action` on a key the caller named; when that key is a provisional AWS
    /// managed key (see `resolve`), creates it now, so nothing is written for a caller who is
    /// refused.
    func authorizedUse(
        _ key: CachedKey, _ caller: Caller, action: String, encryptionContext: [String: String]? = nil,
        conditions: [String: [String]] = [:]
    ) async throws(KMSError) -> CachedKey {
        guard let alias = key.pendingAWSManagedAlias else {
            try self.authorize(
                caller, action: action, key: key, encryptionContext: encryptionContext, conditions: conditions)
            return key
        }
        do {
            try self.authorize(
                caller, action: action, key: key, encryptionContext: encryptionContext, conditions: conditions)
        } catch {
            // The provisional key never existed: neither the answer nor the record names it.
            caller.trail.forget(keyARN: key.record.arn)
            let aliasARN = self.scope.aliasARN(account: key.record.account, region: key.record.region, name: alias)
            throw KMSError.accessDenied(
                AccessDenial(principal: caller.principalARN, action: "kms:\(action)", resource: aliasARN))
        }
        caller.trail.forget(keyARN: key.record.arn)
        var created = try await self.createAWSManagedKey(key)
        created.requestAlias = alias
        // Judged again against the stored key (another request or kmsd may have created it
        // first), which also puts the real key in the request's record.
        try self.authorize(
            caller, action: action, key: created, encryptionContext: encryptionContext, conditions: conditions)
        return created
    }

    /// A key by id, whatever its account: callers must still pass `authorize`.
    func loadKey(_ keyID: KeyID, named text: @autoclosure () -> String) async throws(KMSError) -> CachedKey {
        if let cached = self.cache.key(keyID) { return cached }
        let generation = self.cache.generation
        guard
            let key = try await self.keyLoads.key(
                keyID, generation: generation,
                { () async throws(KMSError) -> CachedKey? in
                    guard let found = try await self.store({ try await self.stores.keys.fetchWhole(keyID: keyID) })
                    else { return nil }
                    var record = found.record
                    if record.keyID.isMultiRegion {
                        record.multiRegion = try await self.multiRegionConfiguration(of: found.record)
                    }
                    let key = CachedKey(
                        record: record, materials: found.materials, grants: found.grants, aliases: found.aliases,
                        tags: CachedKey.tagMap(found.tags), policies: self.cache.policies
                    )
                    self.cache.store(key, loadedAt: generation)
                    return key
                })
        else {
            throw Self.notFound(text())
        }
        return key
    }

    /// Where a multi-Region key's related keys are; one never replicated is a primary alone.
    func multiRegionConfiguration(of record: KeyRecord) async throws(KMSError) -> MultiRegionConfiguration {
        let members = try await self.store { try await self.stores.multiRegionKeys?.relatedKeys(of: record.keyID) }
        return MultiRegionConfiguration(region: record.region, members: members ?? [])
            ?? MultiRegionConfiguration(keyType: .primary, primaryRegion: record.region, replicaRegions: [])
    }

    /// A grant token makes its grant count at once, even before this kmsd has heard of it:
    /// grants a token names that the cached key lacks are read (by id, one indexed query) and
    /// added to this request's copy of the key. Nothing shared changes: the cached key is not
    /// evicted, and a token that names no grant of this key is remembered as such for a while,
    /// so made-up tokens cost their sender a query at most, and other callers nothing.
    func freshen(_ key: CachedKey, grantTokens: [String]) async throws(KMSError) -> CachedKey {
        guard !grantTokens.isEmpty, key.pendingAWSManagedAlias == nil else { return key }
        let missing = Set(grantTokens.compactMap(GrantToken.grantID(from:)))
            .filter { !key.grantIDs.contains($0) && !self.cache.isUnknownGrant($0, keyID: key.record.keyID) }
        guard !missing.isEmpty else { return key }
        let found = try await self.store { try await self.stores.grants.find(grantIDs: Array(missing)) }
            .filter { $0.keyID == key.record.keyID }
        for id in missing where !found.contains(where: { $0.grantID == id }) {
            self.cache.rememberUnknownGrant(id, keyID: key.record.keyID)
        }
        return found.isEmpty ? key : key.adding(grants: found)
    }

    /// Drops a key from the cache and reads it again (after a change of our own, or when a
    /// ciphertext names material the cached copy does not have yet).
    func reloadKey(_ keyID: KeyID) async throws(KMSError) -> CachedKey {
        self.cache.invalidateKey(keyID)
        return try await self.loadKey(keyID, named: keyID.description)
    }

    private func loadAlias(
        account: String, region: String, name: String, text: String, caller: Caller, creatingAWSManaged: Bool
    ) async throws(KMSError) -> CachedKey {
        let aliasKey = KeyCache.aliasKey(account: account, region: region, name: name)
        if let target = self.cache.aliasTarget(aliasKey) {
            return try await self.loadKey(target, named: text)
        }
        let generation = self.cache.generation
        if let alias = try await self.store({
            try await self.stores.aliases.find(account: account, region: region, name: name)
        }) {
            self.cache.storeAlias(aliasKey, target: alias.targetKeyID, loadedAt: generation)
            return try await self.loadKey(alias.targetKeyID, named: text)
        }
        // alias/aws/<service> names the AWS managed key of a real AWS service, which appears on
        // first use: only the caller's own account and region, and only once authorized.
        if creatingAWSManaged, account == caller.account, region == caller.region,
            let service = AWSManagedServices.service(ofAlias: name)
        {
            return self.provisionalAWSManagedKey(account: account, region: region, aliasName: name, service: service)
        }
        throw KMSError(
            .notFound, "Alias \(self.scope.aliasARN(account: account, region: region, name: name)) is not found.")
    }

    private func checkScope(_ arn: KMSResourceARN, caller: Caller, text: String) throws(KMSError) {
        guard arn.partition == self.scope.partition, arn.region == caller.region,
            self.scope.regions.contains(arn.region)
        else {
            throw Self.notFound(text)
        }
    }

    /// The operations whose errors in botocore's model include InvalidArnException.
    static let operationsWithInvalidArn: Set<String> = [
        "CancelKeyDeletion", "CreateGrant", "CreateKey", "DeleteImportedKeyMaterial", "DescribeKey", "DisableKey",
        "DisableKeyRotation", "EnableKey", "EnableKeyRotation", "GetKeyLastUsage", "GetKeyPolicy",
        "GetKeyRotationStatus", "GetParametersForImport", "GetPublicKey", "ImportKeyMaterial", "ListAliases",
        "ListGrants", "ListKeyPolicies", "ListKeyRotations", "ListResourceTags", "ListRetirableGrants", "PutKeyPolicy",
        "ReplicateKey", "RetireGrant", "RevokeGrant", "RotateKeyOnDemand", "ScheduleKeyDeletion", "TagResource",
        "UntagResource", "UpdateKeyDescription", "UpdatePrimaryRegion",
    ]

    static func notFound(_ text: String) -> KMSError {
        KMSError(.notFound, "Key '\(text.prefix(2048))' does not exist")
    }
}
