import Foundation
import KMSDomain
import KMSPolicy
import KMSProto
import KMSStore

/// ReplicateKey and UpdatePrimaryRegion: multi-Region keys among the regions this deployment
/// serves. Related keys share their public `mrk-` id, their material versions (copies of the
/// same wrapped rows) and their rotation, driven by the primary; each has its own policy,
/// description, tags, aliases, grants and state (see KeyID+MultiRegion.swift for the ids and
/// Migration19MultiRegionKeys for the table of families).
extension KMSService {
    func replicateKey(_ request: KMSReplicateKeyRequest, caller: Caller) async throws(KMSError)
        -> KMSReplicateKeyResponse
    {
        let region = request.replicaRegion
        try Self.checkRegion(region, field: "replicaRegion")
        try Validation.description(request.description_p)
        let (tags, policy, document) = try self.newKeyTagsAndPolicy(
            tags: request.tags, policy: request.hasPolicy ? request.policy : nil, caller: caller)

        var primary = try await self.resolve(request.keyID, for: caller, accepting: .keyOnly)
        try self.authorize(caller, action: "ReplicateKey", key: primary, conditions: ["kms:ReplicaRegion": [region]])
        try Self.checkPrimary(primary.record, "ReplicateKey")
        // The replica is a key created in its region: kms:CreateKey there (and kms:TagResource
        // for tags), from the caller's identity policies, as at AWS.
        var creation: [String: [String]] = [
            "aws:RequestedRegion": [region], "kms:MultiRegion": ["true"], "kms:MultiRegionKeyType": ["REPLICA"],
            "kms:KeySpec": [primary.record.spec.rawValue], "kms:KeyUsage": [primary.record.usage.rawValue],
            "kms:KeyOrigin": [primary.record.origin.rawValue],
            "kms:BypassPolicyLockoutSafetyCheck": [request.bypassPolicyLockoutSafetyCheck ? "true" : "false"],
        ]
        if !tags.isEmpty { creation.merge(Self.tagConditions(tags)) { first, _ in first } }
        try self.authorize(caller, action: "CreateKey", key: nil, conditions: creation)
        if !tags.isEmpty {
            var tagging = Self.tagConditions(tags)
            tagging["aws:RequestedRegion"] = [region]
            try self.authorize(caller, action: "TagResource", key: nil, conditions: tagging)
        }
        let peerKey = self.scope.peerRegions[region]
        guard self.scope.regions.contains(region) || peerKey != nil else {
            throw KMSError(.unsupportedOperation, "\(region) is not a region this service serves.")
        }
        let replicaARN = primary.record.relatedARN(in: region)
        if request.hasPolicy, !request.bypassPolicyLockoutSafetyCheck {
            try self.checkLockout(document, caller: caller, keyAccount: primary.record.account, keyARN: replicaARN)
        }
        caller.trail.note(keyARN: replicaARN)
        if let peerKey {
            return try await self.replicateKeyToPeer(
                request, primary: primary, region: region, peerKey: peerKey, policy: policy, tags: tags,
                caller: caller)
        }
        for _ in 0..<5 {
            // A primary waiting for its imported material may be replicated (each related key
            // imports the material itself); otherwise the primary must be usable.
            if primary.record.origin != .external || primary.record.state != .pendingImport {
                try primary.record.state.checkUsable(keyARN: primary.record.arn)
            }
            if primary.record.region == region || primary.record.multiRegion?.replicaRegions.contains(region) == true {
                throw Self.replicaExists(primary.record, region)
            }
            let source = primary.record
            let replica = KeyRecord(
                keyID: source.keyID.inRegion(region), arn: replicaARN, account: source.account, region: region,
                description: request.description_p, state: source.origin == .external ? .pendingImport : .enabled,
                usage: source.usage, spec: source.spec,
                origin: source.origin, manager: source.manager,
                creationDate: Date(timeIntervalSince1970: self.now().timeIntervalSince1970.rounded(.down)),
                deletionDate: nil, pendingWindowInDays: nil, policy: policy,
                currentMaterialID: source.currentMaterialID, version: 1)
            let audit = self.changeRecord(caller)
            let outcome = try await self.store { [tags] in
                try await self.stores.multiRegionKeys?.insertReplica(replica, of: source, tags: tags, audit: audit)
            }
            guard let outcome else {
                throw KMSError(.unsupportedOperation, "Multi-Region keys are not supported by this key store.")
            }
            switch outcome {
            case .inserted(let stored):
                self.cache.invalidateKey(source.keyID)
                let loaded = try await self.reloadKey(stored.keyID)
                return Self.replicated(loaded.record, policy: policy, request: request)
            case .exists:
                throw Self.replicaExists(source, region)
            case .primaryChanged:
                primary = try await self.reloadKey(source.keyID)
                try Self.checkPrimary(primary.record, "ReplicateKey")
            }
        }
        throw KMSError(.conflict, "\(primary.record.arn) is being changed concurrently; retry", retryable: true)
    }

    func updatePrimaryRegion(_ request: KMSUpdatePrimaryRegionRequest, caller: Caller) async throws(KMSError)
        -> KMSUpdatePrimaryRegionResponse
    {
        let region = request.primaryRegion
        try Self.checkRegion(region, field: "primaryRegion")
        var primary = try await self.resolve(request.keyID, for: caller, accepting: .keyOnly)
        let conditions = ["kms:PrimaryRegion": [region]]
        try self.authorize(caller, action: "UpdatePrimaryRegion", key: primary, conditions: conditions)
        try Self.checkPrimary(primary.record, "UpdatePrimaryRegion")
        for _ in 0..<5 {
            // AWS: the new primary region must hold a replica of the key.
            guard primary.record.multiRegion?.replicaRegions.contains(region) == true,
                self.scope.regions.contains(region)
            else {
                throw KMSError(
                    .notFound,
                    "\(primary.record.arn) has no replica key in \(region.prefix(32)): the new primary region must "
                        + "hold one.")
            }
            let replica = try await self.loadKey(
                primary.record.keyID.inRegion(region), named: primary.record.relatedARN(in: region))
            // The replica's own key policy must allow it too, in its region.
            var inReplicaRegion = conditions
            inReplicaRegion["aws:RequestedRegion"] = [region]
            try self.authorize(caller, action: "UpdatePrimaryRegion", key: replica, conditions: inReplicaRegion)
            try Self.checkSwappable(primary.record)
            try Self.checkSwappable(replica.record)
            let audit = self.changeRecord(caller)
            let (old, new) = (primary.record, replica.record)
            let swapped = try await self.store {
                try await self.stores.multiRegionKeys?.updatePrimaryRegion(from: old, to: new, audit: audit)
            }
            self.cache.invalidateKey(old.keyID)
            self.cache.invalidateKey(new.keyID)
            if swapped == true { return KMSUpdatePrimaryRegionResponse() }
            primary = try await self.reloadKey(old.keyID)
            try Self.checkPrimary(primary.record, "UpdatePrimaryRegion")
        }
        throw KMSError(.conflict, "\(primary.record.arn) is being changed concurrently; retry", retryable: true)
    }

    /// AWS's RegionType: 1..32 characters of the pattern `^([a-z]+-){2,3}\d+$`.
    static func checkRegion(_ region: String, field: String) throws(KMSError) {
        try Limits.check(region.utf8.count, in: 1...32, field: field)
        let parts = region.split(separator: "-", omittingEmptySubsequences: false)
        let wellFormed =
            (3...4).contains(parts.count)
            && parts.dropLast().allSatisfy { !$0.isEmpty && $0.utf8.allSatisfy { (97...122).contains($0) } }
            && parts.last.map { !$0.isEmpty && $0.utf8.allSatisfy { (48...57).contains($0) } } == true
        guard wellFormed else {
            throw .validation(
                "1 validation error detected: Value '\(region.prefix(32))' at '\(field)' failed to satisfy "
                    + "constraint: Member must satisfy regular expression pattern: ^([a-z]+-){2,3}\\d+$")
        }
    }

    /// Only a multi-Region primary key is replicated, or hands its role over.
    static func checkPrimary(_ record: KeyRecord, _ operation: String) throws(KMSError) {
        guard record.keyID.isMultiRegion else {
            throw KMSError(.unsupportedOperation, "\(record.arn) is not a multi-Region key: \(operation) needs one.")
        }
        guard !record.isReplica else {
            throw KMSError(
                .unsupportedOperation,
                "\(record.arn) is a multi-Region replica key: \(operation) is called on the primary key, in "
                    + "\(record.multiRegion?.primaryRegion ?? "its region").")
        }
    }

    /// UpdatePrimaryRegion leaves both keys' states; it is refused while either is being
    /// deleted (or in a transient state AWS's keys pass through), as at AWS.
    static func checkSwappable(_ record: KeyRecord) throws(KMSError) {
        switch record.state {
        case .enabled, .disabled, .pendingImport: return
        default:
            throw KMSError(
                .invalidState,
                "\(record.arn) is \(record.state.rawValue); UpdatePrimaryRegion is not allowed in that state.")
        }
    }

    /// ReplicateKey's answer: the new replica, its policy and the tags it was asked for.
    static func replicated(_ replica: KeyRecord, policy: String, request: KMSReplicateKeyRequest)
        -> KMSReplicateKeyResponse
    {
        var response = KMSReplicateKeyResponse()
        response.replicaKeyMetadata = KMSKeyMetadata(replica)
        response.replicaPolicy = policy
        response.replicaTags = request.tags
        return response
    }

    static func replicaExists(_ primary: KeyRecord, _ region: String) -> KMSError {
        KMSError(.alreadyExists, "\(primary.relatedARN(in: region)) already exists: a key replicates once per region.")
    }
}
