import Foundation
import KMSCrypto
import KMSDomain
import KMSPolicy
import KMSProto
import KMSStore

extension KMSService {
    func createKey(_ request: KMSCreateKeyRequest, caller: Caller) async throws(KMSError) -> KMSCreateKeyResponse {
        try Validation.description(request.description_p)
        let usage = request.hasKeyUsage ? KeyUsage(rawValue: request.keyUsage.awsName) : .encryptDecrypt
        guard let usage else {
            throw .validation(
                "1 validation error detected: Value at 'keyUsage' failed to satisfy constraint: Member must satisfy "
                    + "enum value set"
            )
        }
        var spec: KeySpec? = .symmetricDefault
        if request.hasKeySpec {
            spec = KeySpec(rawValue: request.keySpec.awsName)
        } else if request.hasCustomerMasterKeySpec {
            spec = KeySpec(rawValue: request.customerMasterKeySpec.awsName)
        }
        guard let spec else {
            throw .validation(
                "1 validation error detected: Value at 'keySpec' failed to satisfy constraint: Member must satisfy "
                    + "enum value set"
            )
        }
        if request.hasKeySpec, request.hasCustomerMasterKeySpec {
            throw .validation(
                "You cannot specify KeySpec and CustomerMasterKeySpec in the same request. CustomerMasterKeySpec is "
                    + "deprecated."
            )
        }
        guard spec.isSupported else {
            throw .keySpecUnsupported(spec)
        }
        // AWS defaults KeyUsage to ENCRYPT_DECRYPT only for symmetric encryption keys.
        guard request.hasKeyUsage || spec == .symmetricDefault else {
            throw .validation(
                "You must specify a KeyUsage value for all KMS keys except for symmetric encryption keys.")
        }
        guard spec.allowedUsages.contains(usage) else {
            throw .validation("KeyUsage \(usage.rawValue) is not compatible with KeySpec \(spec.rawValue)")
        }
        let origin = request.hasOrigin ? Origin(rawValue: request.origin.awsName) : .awsKMS
        guard let origin else {
            throw .validation("Origin must be AWS_KMS, EXTERNAL, AWS_CLOUDHSM or EXTERNAL_KEY_STORE.")
        }
        var customKeyStore: CustomKeyStoreRecord?
        if origin == .awsCloudHSM || origin == .externalKeyStore || request.hasCustomKeyStoreID
            || request.hasXksKeyID
        {
            customKeyStore = try await self.checkKeyInCustomKeyStore(
                request, origin: origin, spec: spec, usage: usage, caller: caller)
        }
        let multiRegion = request.hasMultiRegion && request.multiRegion
        if multiRegion {
            guard self.stores.multiRegionKeys != nil else {
                throw KMSError(.unsupportedOperation, "Multi-Region keys are not supported by this key store.")
            }
        }
        let (tags, policy, document) = try self.newKeyTagsAndPolicy(
            tags: request.tags, policy: request.hasPolicy ? request.policy : nil, caller: caller)
        var conditions: [String: [String]] = [
            "kms:KeySpec": [spec.rawValue], "kms:KeyUsage": [usage.rawValue], "kms:KeyOrigin": [origin.rawValue],
            "kms:BypassPolicyLockoutSafetyCheck": [
                request.hasBypassPolicyLockoutSafetyCheck && request.bypassPolicyLockoutSafetyCheck ? "true" : "false"
            ],
            "kms:MultiRegion": [multiRegion ? "true" : "false"],
        ]
        if multiRegion { conditions["kms:MultiRegionKeyType"] = ["PRIMARY"] }
        if !tags.isEmpty { conditions.merge(Self.tagConditions(tags)) { first, _ in first } }
        try self.authorize(caller, action: "CreateKey", key: nil, conditions: conditions)
        // Tagging at creation needs kms:TagResource as well, as in AWS.
        if !tags.isEmpty {
            try self.authorize(caller, action: "TagResource", key: nil, conditions: Self.tagConditions(tags))
        }
        let xksKeyID = origin == .externalKeyStore ? request.xksKeyID : nil
        if let customKeyStore { try await self.checkNewKeyBacking(customKeyStore, xksKeyID: xksKeyID, caller: caller) }

        // A multi-Region key's row id is its public id made regional (KeyID+MultiRegion.swift).
        let keyID = multiRegion ? KeyID.randomMultiRegion().inRegion(caller.region) : KeyID.random()
        let arn = self.scope.keyARN(account: caller.account, region: caller.region, keyID: keyID)
        if request.hasPolicy, !(request.hasBypassPolicyLockoutSafetyCheck && request.bypassPolicyLockoutSafetyCheck) {
            try self.checkLockout(document, caller: caller, keyAccount: caller.account, keyARN: arn)
        }
        // An EXTERNAL key waits for its material in PendingImport. A key in an external key store
        // has material of its own too: AWS's double encryption seals under it first, then under
        // the external key. A key in an AWS_CLOUDHSM store has its material made in the token.
        let material: StoredMaterial?
        switch origin {
        case .awsKMS, .externalKeyStore:
            material = try await self.generateMaterial(
                keyID: keyID, keyARN: KeyRecord.materialARN(keyARN: arn, keyID: keyID), spec: spec)
        case .awsCloudHSM:
            guard let customKeyStore else { throw .internalFailure("a token key without its custom key store") }
            material = try await self.createTokenMaterial(keyID: keyID, keyARN: arn, store: customKeyStore)
        case .external:
            material = nil
        }
        let record = KeyRecord(
            keyID: keyID, arn: arn, account: caller.account, region: caller.region, description: request.description_p,
            state: material == nil ? .pendingImport : .enabled, usage: usage, spec: spec, origin: origin,
            manager: .customer,
            creationDate: Date(timeIntervalSince1970: self.now().timeIntervalSince1970.rounded(.down)),
            deletionDate: nil, pendingWindowInDays: nil, policy: policy,
            currentMaterialID: material?.materialID, version: 1,
            multiRegion: multiRegion
                ? MultiRegionConfiguration(keyType: .primary, primaryRegion: caller.region, replicaRegions: []) : nil,
            customKeyStoreID: customKeyStore?.id, xksKeyID: xksKeyID
        )
        caller.trail.note(keyARN: arn)
        let audit = self.changeRecord(caller)
        // Taken before the insert, so that an invalidation meanwhile keeps the new key out of the
        // cache (as for any load).
        let generation = self.cache.generation
        do {
            _ = try await self.store { [customKeyStore] in
                do {
                    return try await self.stores.keys.insert(
                        record, material: material, alias: nil, tags: tags, audit: audit)
                } catch is ExternalKeyInUse {
                    // A concurrent CreateKey linked the external key between the check and this insert.
                    guard let xksKeyID, let customKeyStore else { throw KMSError.internalFailure() }
                    throw Self.externalKeyInUse(xksKeyID, store: customKeyStore.id)
                }
            }
        } catch {
            if let material, material.isTokenKey, let customKeyStore {
                await self.destroyTokenKey(material, of: record, in: customKeyStore)
            }
            throw error
        }
        // A new key is usually used at once (an Encrypt or GenerateDataKey right after): cached
        // as stored, its first use needs no read of it. Only a single-Region key outside a custom
        // key store, whose row as read back is exactly what went in (WholeKeyContractTests); the
        // others are read on first use, as before.
        if !multiRegion, customKeyStore == nil {
            self.cache.store(
                CachedKey(created: record, policy: document, material: material, tags: CachedKey.tagMap(tags)),
                loadedAt: generation)
        }
        var response = KMSCreateKeyResponse()
        response.keyMetadata = KMSKeyMetadata(record)
        if let token = customKeyStore?.cloudHSM { response.keyMetadata.cloudHsmClusterID = token.clusterID }
        return response
    }

    func describeKey(_ request: KMSDescribeKeyRequest, caller: Caller) async throws(KMSError) -> KMSDescribeKeyResponse
    {
        // Grant tokens count here as in the cryptographic operations (a grant may allow DescribeKey).
        let named = try await self.freshen(
            try await self.resolve(request.keyID, for: caller, creatingAWSManaged: true),
            grantTokens: request.grantTokens)
        let key = try await self.authorizedUse(named, caller, action: "DescribeKey")
        var record = key.record
        // A key of a store that is not CONNECTED shows Unavailable, as at AWS; the store is read
        // here rather than cached with the key, its state changing apart from the key's.
        var token: CloudHSMTokenSettings?
        if let id = record.customKeyStoreID, let stores = try? self.customKeyStoreStores(),
            let store = try await self.store({ try await stores.fetch(id) })
        {
            record.state = store.keyState(stored: record.state)
            token = store.cloudHSM
        }
        var response = KMSDescribeKeyResponse()
        response.keyMetadata = KMSKeyMetadata(record)
        if let token { response.keyMetadata.cloudHsmClusterID = token.clusterID }
        return response
    }

    func listKeys(_ request: KMSListKeysRequest, caller: Caller) async throws(KMSError) -> KMSListKeysResponse {
        let limit = try Validation.limit(request.hasLimit ? request.limit : nil, range: 1...1000, default: 100)
        let marker = try Marker.decode(request.hasMarker ? request.marker : nil)
        // Keys page in row id order; a multi-Region key's marker is its public id.
        let after = marker.flatMap { KeyID($0) }?.inRegion(caller.region)
        if marker != nil, after == nil {
            throw KMSError(.invalidMarker, "The marker is not one this service issued.")
        }
        try self.authorize(caller, action: "ListKeys", key: nil)
        // One more than asked, to know whether the list is truncated.
        let page = try await self.store {
            try await self.stores.keys.list(
                account: caller.account, region: caller.region, after: after, limit: limit + 1)
        }
        var response = KMSListKeysResponse()
        response.keys = page.prefix(limit).map { key in
            var entry = KMSKeyListEntry()
            entry.keyID = key.keyID.description
            entry.keyArn = key.arn
            return entry
        }
        response.truncated = page.count > limit
        if response.truncated, let last = response.keys.last {
            response.nextMarker = Marker.encode(last.keyID)
        }
        return response
    }

    func updateKeyDescription(_ request: KMSUpdateKeyDescriptionRequest, caller: Caller) async throws(KMSError)
        -> KMSUpdateKeyDescriptionResponse
    {
        try Validation.description(request.description_p)
        _ = try await self.change(request.keyID, caller: caller, action: "UpdateKeyDescription", accepting: .keyOnly) {
            record throws(KMSError) in
            try Self.refuseIfAWSManaged(record, "UpdateKeyDescription")
            try record.state.checkModifiable(keyARN: record.arn)
            record.description = request.description_p
        }
        return KMSUpdateKeyDescriptionResponse()
    }

    func enableKey(_ request: KMSEnableKeyRequest, caller: Caller) async throws(KMSError) -> KMSEnableKeyResponse {
        _ = try await self.change(request.keyID, caller: caller, action: "EnableKey", accepting: .keyOnly) {
            record throws(KMSError) in
            record.state = try record.state.enabling(keyARN: record.arn)
        }
        return KMSEnableKeyResponse()
    }

    func disableKey(_ request: KMSDisableKeyRequest, caller: Caller) async throws(KMSError) -> KMSDisableKeyResponse {
        _ = try await self.change(request.keyID, caller: caller, action: "DisableKey", accepting: .keyOnly) {
            record throws(KMSError) in
            try Self.refuseIfAWSManaged(record, "DisableKey")
            record.state = try record.state.disabling(keyARN: record.arn)
        }
        return KMSDisableKeyResponse()
    }

    func scheduleKeyDeletion(_ request: KMSScheduleKeyDeletionRequest, caller: Caller) async throws(KMSError)
        -> KMSScheduleKeyDeletionResponse
    {
        let days = request.hasPendingWindowInDays ? Int(request.pendingWindowInDays) : 30
        try Limits.check(value: days, in: 7...30, field: "pendingWindowInDays")
        let now = self.now()
        let updated = try await self.change(
            request.keyID, caller: caller, action: "ScheduleKeyDeletion", accepting: .keyOnly
        ) { record throws(KMSError) in
            try Self.refuseIfAWSManaged(record, "ScheduleKeyDeletion")
            record.state = try record.state.schedulingDeletion(keyARN: record.arn)
            record.deletionDate = KeySchedule.deletionDate(scheduledAt: now, windowDays: days)
            record.pendingWindowInDays = days
            // As at AWS, a primary's waiting period starts once its last replica is deleted
            // (the deletion reaper starts it); until then it is PendingReplicaDeletion.
            if let family = record.multiRegion, family.keyType == .primary, !family.replicaRegions.isEmpty {
                record.state = .pendingReplicaDeletion
                record.deletionDate = nil
            }
        }
        var response = KMSScheduleKeyDeletionResponse()
        response.keyID = updated.arn
        if updated.state == .pendingReplicaDeletion {
            response.keyState = .pendingReplicaDeletion
            response.pendingWindowInDays = Int32(days)
            return response
        }
        response.deletionDate = .init(date: updated.deletionDate ?? now)
        response.keyState = .pendingDeletion
        response.pendingWindowInDays = Int32(days)
        return response
    }

    func cancelKeyDeletion(_ request: KMSCancelKeyDeletionRequest, caller: Caller) async throws(KMSError)
        -> KMSCancelKeyDeletionResponse
    {
        let updated = try await self.change(
            request.keyID, caller: caller, action: "CancelKeyDeletion", accepting: .keyOnly
        ) { record throws(KMSError) in
            record.state = try record.state.cancellingDeletion(keyARN: record.arn)
            record.deletionDate = nil
            record.pendingWindowInDays = nil
        }
        var response = KMSCancelKeyDeletionResponse()
        response.keyID = updated.arn
        return response
    }

    /// Read, change, write with the row version as guard; retried when another writer won.
    func change(
        _ keyText: String, caller: Caller, action: String, accepting: KeyReference.Accepted,
        conditions: [String: [String]] = [:],
        _ mutate: (inout KeyRecord) throws(KMSError) -> Void
    ) async throws(KMSError) -> KeyRecord {
        var key = try await self.resolve(keyText, for: caller, accepting: accepting)
        try self.authorize(caller, action: action, key: key, conditions: conditions)
        for _ in 0..<5 {
            var record = key.record
            try mutate(&record)
            let candidate = record
            let audit = self.changeRecord(caller)
            if let stored = try await self.store({ try await self.stores.keys.update(candidate, audit: audit) }) {
                self.cache.invalidateKey(stored.keyID)
                return stored
            }
            key = try await self.reloadKey(key.record.keyID)
        }
        throw KMSError(.conflict, "\(key.record.arn) is being changed concurrently; retry", retryable: true)
    }
}

extension KMSService {
    /// A new key's tags, checked, and its key policy (the default one when the request gives
    /// none), parsed: what CreateKey and ReplicateKey's replica both start with.
    func newKeyTagsAndPolicy(tags requested: [KMSTag], policy requestedPolicy: String?, caller: Caller)
        throws(KMSError) -> (tags: [(key: String, value: String)], policy: String, document: PolicyDocument)
    {
        let tags = requested.map { (key: $0.tagKey, value: $0.tagValue) }
        try Validation.tags(tags)
        guard tags.count <= Tags.maximumPerKey else { throw KMSError(.tag, "Too many tags") }
        try Tags.check(tags)
        guard let requestedPolicy else {
            let policy = try self.defaultPolicies.policy(of: caller.account)
            return (tags, policy.text, policy.document)
        }
        let policy = try self.cache.policies.parse(requestedPolicy, kind: .resource)
        return (tags, policy.text, policy.document)
    }
}
