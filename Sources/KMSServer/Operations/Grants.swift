import Foundation
import KMSCrypto
import KMSDomain
import KMSPolicy
import KMSProto

extension KMSService {
    /// Operations that take an encryption context, and so may carry grant constraints.
    static let contextOperations: Set<String> = [
        "Decrypt", "Encrypt", "GenerateDataKey", "GenerateDataKeyWithoutPlaintext", "ReEncryptFrom", "ReEncryptTo",
        "GenerateDataKeyPair", "GenerateDataKeyPairWithoutPlaintext", "CreateGrant", "RetireGrant",
    ]

    func createGrant(_ request: KMSCreateGrantRequest, caller: Caller) async throws(KMSError) -> KMSCreateGrantResponse
    {
        try Self.checkPrincipal(request.granteePrincipal, field: "granteePrincipal")
        if request.hasRetiringPrincipal {
            try Self.checkPrincipal(request.retiringPrincipal, field: "retiringPrincipal")
        }
        let operations = request.operations.map(\.awsName)
        guard !operations.isEmpty, !operations.contains("") else {
            throw .validation(
                "1 validation error detected: Value at 'operations' failed to satisfy constraint: Member must have "
                    + "at least one valid GrantOperation"
            )
        }
        var equals: [String: String]?
        var subset: [String: String]?
        if request.hasConstraints {
            let constraints = request.constraints
            guard constraints.encryptionContextEquals.isEmpty || constraints.encryptionContextSubset.isEmpty else {
                throw .validation("A grant may constrain EncryptionContextEquals or EncryptionContextSubset, not both.")
            }
            equals = constraints.encryptionContextEquals.isEmpty ? nil : constraints.encryptionContextEquals
            subset = constraints.encryptionContextSubset.isEmpty ? nil : constraints.encryptionContextSubset
            if equals != nil || subset != nil,
                let other = operations.first(where: { !Self.contextOperations.contains($0) })
            {
                throw .validation(
                    "Grant constraints are not allowed with the \(other) operation, which takes no encryption context.")
            }
            _ = try EncryptionContextEncoding.canonicalBytes(equals ?? subset ?? [:])
        }
        if request.hasName {
            guard (1...256).contains(request.name.utf8.count), request.name.utf8.allSatisfy(Self.isNameByte) else {
                throw .validation(
                    "1 validation error detected: Value at 'name' failed to satisfy constraint: Member must satisfy "
                        + "regular expression pattern: ^[a-zA-Z0-9:/_-]+$"
                )
            }
        }
        var key = try await self.resolve(request.keyID, for: caller, accepting: .keyOnly)
        key = try await self.freshen(key, grantTokens: request.grantTokens)
        var conditions: [String: [String]] = [
            "kms:GrantOperations": operations.sorted(),
            "kms:GranteePrincipal": [request.granteePrincipal],
            "kms:GrantIsForAWSResource": ["false"],
        ]
        if request.hasRetiringPrincipal { conditions["kms:RetiringPrincipal"] = [request.retiringPrincipal] }
        if equals != nil { conditions["kms:GrantConstraintType"] = ["EncryptionContextEquals"] }
        if subset != nil { conditions["kms:GrantConstraintType"] = ["EncryptionContextSubset"] }
        // AWS evaluates kms:EncryptionContext:* of CreateGrant against the new grant's
        // constraints; they are also what a parent grant's own constraints are checked against.
        let via = try self.authorize(
            caller, action: "CreateGrant", key: key, encryptionContext: equals ?? subset, conditions: conditions)
        if case .grant = via {
            // On a grant's authority a grantee may pass on only what that grant gives it: a
            // subset of its operations under constraints at least as strict.
            let parent = key.grants.first {
                $0.granteePrincipal == caller.principalARN && $0.operations.contains("CreateGrant")
                    && $0.permitsChild(
                        operations: Set(operations), encryptionContextEquals: equals, encryptionContextSubset: subset)
            }
            guard let parent else {
                throw KMSError.accessDenied(
                    AccessDenial(
                        principal: caller.principalARN, action: "kms:CreateGrant", resource: key.record.arn,
                        .detail(
                            "a grant created on the authority of a grant may give only a subset of that grant's "
                                + "operations, with constraints at least as strict")))
            }
            // The operation's own decision, recorded as the gate's are: the grant the new one is
            // created on the authority of is the one its record names.
            try self.record(
                AccessDecision(key: key, encryptionContext: equals ?? subset, outcome: .success(.grant(id: parent.id))),
                for: caller)
        }
        try key.record.state.checkUsable(keyARN: key.record.arn)
        let grantable = key.record.grantableOperations
        if let invalid = operations.first(where: { !grantable.contains($0) }) {
            throw .validation(
                "\(invalid) is not a valid grant operation for \(key.record.arn), a \(key.record.spec.rawValue) key "
                    + "for \(key.record.usage.rawValue)."
            )
        }
        try Validation.dryRun(request.dryRun)

        let grant = GrantRecord(
            grantID: Hex.encode(randomBytes(32)), keyID: key.record.keyID, name: request.hasName ? request.name : nil,
            granteePrincipal: request.granteePrincipal,
            retiringPrincipal: request.hasRetiringPrincipal ? request.retiringPrincipal : nil,
            // The key's account issues every grant on the key, whoever asked for it.
            issuingAccount: "arn:\(self.scope.partition):iam::\(key.record.account):root",
            operations: operations.sorted(),
            encryptionContextEquals: equals, encryptionContextSubset: subset, creationDate: self.now()
        )
        // A retry with the same Name and parameters gets the grant the first attempt made.
        if let name = grant.name {
            let existing = try await self.store { [key] in
                try await self.stores.grants.forKey(key.record.keyID, after: nil, limit: GrantRecord.maximumPerKey)
            }
            if let same = existing.first(where: { $0.name == name && Self.sameTerms($0, grant) }) {
                return Self.grantResponse(same.grantID)
            }
        }
        let record = self.changeRecord(caller)
        guard try await self.store({ try await self.stores.grants.insert(grant, audit: record) }) else {
            throw KMSError(.limitExceeded, "\(key.record.arn) already has \(GrantRecord.maximumPerKey) grants.")
        }
        self.cache.invalidateKey(key.record.keyID)
        return Self.grantResponse(grant.grantID)
    }

    func listGrants(_ request: KMSListGrantsRequest, caller: Caller) async throws(KMSError) -> KMSListGrantsResponse {
        let limit = try Validation.limit(request.hasLimit ? request.limit : nil, range: 1...1000, default: 50)
        let after = try Marker.decode(request.hasMarker ? request.marker : nil)
        let key = try await self.resolve(request.keyID, for: caller, accepting: .keyOnly)
        try self.authorize(caller, action: "ListGrants", key: key)
        let page = try await self.store {
            try await self.stores.grants.forKey(
                key.record.keyID, grantID: request.hasGrantID ? request.grantID : nil,
                granteePrincipal: request.hasGranteePrincipal ? request.granteePrincipal : nil, after: after,
                limit: limit + 1)
        }
        var response = KMSListGrantsResponse()
        response.grants = page.prefix(limit).map { Self.entry($0, keyARN: key.record.arn) }
        response.truncated = page.count > limit
        if response.truncated, let last = page.prefix(limit).last { response.nextMarker = Marker.encode(last.grantID) }
        return response
    }

    func listRetirableGrants(_ request: KMSListRetirableGrantsRequest, caller: Caller) async throws(KMSError)
        -> KMSListRetirableGrantsResponse
    {
        try Self.checkPrincipal(request.retiringPrincipal, field: "retiringPrincipal")
        let limit = try Validation.limit(request.hasLimit ? request.limit : nil, range: 1...1000, default: 50)
        let after = try Marker.decode(request.hasMarker ? request.marker : nil)
        try self.authorize(caller, action: "ListRetirableGrants", key: nil)
        // AWS: the retiring principal must be a principal of the caller's own account; other
        // accounts' grants (their keys, grantees and constraints) are theirs to list.
        guard Self.account(ofPrincipal: request.retiringPrincipal) == caller.account else {
            throw KMSError.accessDenied(
                AccessDenial(
                    principal: caller.principalARN, action: "kms:ListRetirableGrants", resource: nil,
                    .qualifier("for a retiring principal of another account")))
        }
        let page = try await self.store {
            try await self.stores.grants.retirable(by: request.retiringPrincipal, after: after, limit: limit + 1)
        }
        var response = KMSListRetirableGrantsResponse()
        response.grants = page.prefix(limit).map { Self.entry($0.grant, keyARN: $0.keyARN) }
        response.truncated = page.count > limit
        if response.truncated, let last = page.prefix(limit).last {
            response.nextMarker = Marker.encode(last.grant.grantID)
        }
        return response
    }

    /// By the retiring principal, by the grantee when RetireGrant is among the grant's
    /// operations, or by a principal of the key's account whose identity policies allow
    /// kms:RetireGrant on the grant's key (the account's root has it); an explicit deny of
    /// kms:RetireGrant wins over all three.
    func retireGrant(_ request: KMSRetireGrantRequest, caller: Caller) async throws(KMSError) -> KMSRetireGrantResponse
    {
        let grantID: String
        if request.hasGrantToken {
            guard let id = GrantToken.grantID(from: request.grantToken) else {
                throw KMSError(.invalidGrantToken, "The grant token is not one this service issued.")
            }
            grantID = id
        } else if request.hasKeyID, request.hasGrantID {
            grantID = request.grantID
        } else {
            throw .validation("RetireGrant needs a GrantToken, or a KeyId and a GrantId.")
        }
        guard let grant = try await self.store({ try await self.stores.grants.find(grantID: grantID) }) else {
            throw KMSError(.notFound, "Grant \(grantID.prefix(128)) does not exist.")
        }
        let key: CachedKey
        if request.hasKeyID {
            key = try await self.resolve(request.keyID, for: caller, accepting: .keyOnly)
            guard key.record.keyID == grant.keyID else {
                throw KMSError(.notFound, "Grant \(grantID.prefix(128)) is not a grant of \(key.record.arn).")
            }
        } else {
            // A grant token names the grant, and the grant its key, whichever account holds it.
            key = try await self.loadKey(grant.keyID, named: grant.keyID.description)
        }
        let namedByGrant =
            caller.principalARN == grant.retiringPrincipal
            || (caller.principalARN == grant.granteePrincipal && grant.operations.contains("RetireGrant"))
        if namedByGrant {
            try self.record(self.gate.decideRetirement(caller, of: grant, key: key), for: caller)
        } else {
            // Identity policies only (AWS: "kms:RetireGrant is not effective in a key policy"), and
            // not another grant's RetireGrant operation, which retires that grant, not this one.
            try self.authorizeByIdentity(caller, action: "RetireGrant", key: key)
        }
        try Validation.dryRun(request.dryRun)
        let record = self.changeRecord(caller)
        _ = try await self.store { try await self.stores.grants.delete(grantID: grantID, audit: record) }
        self.cache.invalidateKey(grant.keyID)
        return KMSRetireGrantResponse()
    }

    func revokeGrant(_ request: KMSRevokeGrantRequest, caller: Caller) async throws(KMSError) -> KMSRevokeGrantResponse
    {
        let key = try await self.resolve(request.keyID, for: caller, accepting: .keyOnly)
        try self.authorize(caller, action: "RevokeGrant", key: key)
        try Validation.dryRun(request.dryRun)
        guard let grant = try await self.store({ try await self.stores.grants.find(grantID: request.grantID) }),
            grant.keyID == key.record.keyID
        else {
            throw KMSError(.notFound, "Grant \(request.grantID.prefix(128)) does not exist on \(key.record.arn).")
        }
        let record = self.changeRecord(caller)
        _ = try await self.store { try await self.stores.grants.delete(grantID: grant.grantID, audit: record) }
        self.cache.invalidateKey(key.record.keyID)
        return KMSRevokeGrantResponse()
    }

    static func grantResponse(_ grantID: String) -> KMSCreateGrantResponse {
        var response = KMSCreateGrantResponse()
        response.grantID = grantID
        response.grantToken = GrantToken.make(grantID: grantID)
        return response
    }

    /// A grant as ListGrants and ListRetirableGrants list it; AWS names its key by ARN.
    static func entry(_ grant: GrantRecord, keyARN: String) -> KMSGrantListEntry {
        var entry = KMSGrantListEntry()
        entry.keyID = keyARN
        entry.grantID = grant.grantID
        if let name = grant.name { entry.name = name }
        entry.creationDate = .init(date: grant.creationDate)
        entry.granteePrincipal = grant.granteePrincipal
        if let retiring = grant.retiringPrincipal { entry.retiringPrincipal = retiring }
        entry.issuingAccount = grant.issuingAccount
        entry.operations = grant.operations.compactMap { KMSGrantOperation(awsName: $0) }
        if let equals = grant.encryptionContextEquals { entry.constraints.encryptionContextEquals = equals }
        if let subset = grant.encryptionContextSubset { entry.constraints.encryptionContextSubset = subset }
        return entry
    }

    static func sameTerms(_ a: GrantRecord, _ b: GrantRecord) -> Bool {
        a.granteePrincipal == b.granteePrincipal && a.retiringPrincipal == b.retiringPrincipal
            && a.operations == b.operations
            && a.encryptionContextEquals == b.encryptionContextEquals
            && a.encryptionContextSubset == b.encryptionContextSubset
    }

    /// The account of an IAM principal ARN (`arn:aws:iam::<account>:...`); nil for a service
    /// principal.
    static func account(ofPrincipal arn: String) -> String? {
        let parts = arn.split(separator: ":", maxSplits: 5, omittingEmptySubsequences: false)
        guard parts.count == 6, parts[0] == "arn", parts[2] == "iam", parts[4].count == 12 else { return nil }
        return String(parts[4])
    }

    static func checkPrincipal(_ text: String, field: String) throws(KMSError) {
        guard (1...256).contains(text.utf8.count),
            PolicyDocument.isPrincipalARN(text) || text.hasSuffix(".amazonaws.com")
        else {
            throw .validation(
                "1 validation error detected: Value at '\(field)' failed to satisfy constraint: Member must be a "
                    + "principal ARN (arn:aws:iam::<account>:root, user/..., role/...) or a service principal"
            )
        }
    }

    static func isNameByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"),
            UInt8(ascii: ":"), UInt8(ascii: "/"), UInt8(ascii: "_"), UInt8(ascii: "-"):
            return true
        default:
            return false
        }
    }
}
