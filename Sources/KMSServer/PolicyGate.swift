import KMSDomain
import KMSPolicy
import KMSRPC
import KMSStore
import Logging
import NIOCore

/// A principal as the gate needs it on every request: its record, its compiled identity
/// policies and which of its access keys are active (a deactivated key stops working on the
/// next request of a connection it opened, not only at the next handshake).
public struct CachedPrincipal: Sendable {
    /// The principal as stored.
    public let record: PrincipalRecord
    /// The identity policies, compiled; one that no longer parses is a deny-everything policy.
    public let policies: [PolicyDocument]
    /// The ids of the principal's active access keys: a request signed with any other is refused.
    public let activeAccessKeys: Set<String>
    /// Whether any identity policy has a Condition, so that requests can skip building condition keys.
    public let policiesHaveConditions: Bool
    /// The root of the principal's account in its partition (`Caller.accountRootARN`).
    public let accountRootARN: String

    /// A principal as loaded, with its identity policies (parsed by `parsed`, shared with every
    /// principal holding the same text) and access keys.
    public init(
        record: PrincipalRecord, policies: [IdentityPolicyRecord], accessKeys: [AccessKeyRecord],
        parsed: ParsedPolicies? = nil
    ) {
        self.record = record
        // One that no longer parses denies everything (ParsedPolicies.unshared).
        self.policies = policies.map {
            parsed?.stored($0.document, kind: .identity).document
                ?? ParsedPolicies.unshared($0.document, kind: .identity)
        }
        self.activeAccessKeys = Set(accessKeys.filter { $0.status == .active }.map(\.accessKeyID))
        self.policiesHaveConditions = self.policies.contains(where: \.hasConditions)
        self.accountRootARN = KeyAccess.rootARN(account: record.accountID, principalARN: record.arn)
    }

    /// The principal's ARN, by which the cache holds it.
    public var arn: String { self.record.arn }
}

/// Authorization as AWS does it: the key policy, the caller's identity policies and the key's
/// grants (see `KeyAccess`), for the principal each connection authenticated as.
public struct PolicyGate: RequestGate {
    let scope: ServiceScope
    let identities: any IdentityStoring
    let cache: KeyCache
    let logger: Logger
    /// Its wall time is aws:CurrentTime.
    let clock: ServiceClock
    let metrics: ServiceMetrics

    /// A gate that reads principals through `cache`, loading misses from `identities`.
    public init(
        scope: ServiceScope, identities: any IdentityStoring, cache: KeyCache, logger: Logger,
        clock: ServiceClock = .system,
        metrics: ServiceMetrics = ServiceMetrics()
    ) {
        self.clock = clock
        self.metrics = metrics
        self.scope = scope
        self.identities = identities
        self.cache = cache
        self.logger = logger
    }

    static func invalidToken() -> KMSError {
        KMSError(.unrecognizedClient, "The security token included in the request is invalid.")
    }

    /// The caller of a request on `connection`: its principal, account, region and identity policies. Throws
    /// MissingAuthenticationTokenException for an unauthenticated connection, and UnrecognizedClientException when
    /// the principal or its access key is gone or inactive.
    public func caller(for connection: RPCConnectionInfo) async throws(KMSError) -> Caller {
        guard let identity = connection.identity else {
            throw KMSError(.missingAuthenticationToken, "The request is not authenticated.")
        }
        let sourceIP = connection.remoteIP
        if identity.method == .anonymous {
            // Insecure development mode only: the default account's root, with admin rights.
            return Caller(
                account: self.scope.defaultAccount, region: self.scope.defaultRegion,
                principalARN: identity.principalARN,
                isAdmin: true, sourceIP: sourceIP, secureTransport: connection.secureTransport
            )
        }
        guard let principal = try await self.principal(identity.principalARN) else { throw Self.invalidToken() }
        if let accessKeyID = identity.accessKeyID, !principal.activeAccessKeys.contains(accessKeyID) {
            throw Self.invalidToken()
        }
        return Caller(
            account: principal.record.accountID, region: identity.region ?? self.scope.defaultRegion,
            principalARN: principal.arn,
            accessKeyID: identity.accessKeyID, isAdmin: principal.record.isAdmin,
            identityPolicies: principal.record.kind == .root ? [] : principal.policies,
            sourceIP: sourceIP, secureTransport: connection.secureTransport,
            transport: identity.method == .signature ? "aws-json" : "binary", accountRootARN: principal.accountRootARN
        )
    }

    /// A principal from the cache, or from PostgreSQL; nil when it does not exist.
    func principal(_ arn: String) async throws(KMSError) -> CachedPrincipal? {
        if let cached = self.cache.principal(arn) { return cached }
        let generation = self.cache.generation
        return try await storeCall(logger: self.logger, metrics: self.metrics) {
            guard let record = try await self.identities.principal(arn) else { return nil }
            let policies = try await self.identities.policies(of: arn)
            let keys = try await self.identities.accessKeys(of: arn)
            let principal = CachedPrincipal(
                record: record, policies: policies, accessKeys: keys, parsed: self.cache.policies)
            self.cache.storePrincipal(principal, loadedAt: generation)
            return principal
        }
    }

    /// Decides `action` by the key policy, identity policies and grants (`KeyAccess`): what
    /// allowed it, or the AccessDeniedException naming the caller and the action when nothing
    /// does. Only decides: the service records the decision (`KMSService.authorize`).
    public func decide(
        _ caller: Caller, action: String, key: CachedKey?, encryptionContext: [String: String]?,
        conditions: [String: [String]]
    ) -> AccessDecision {
        func decision(_ outcome: Result<KeyAccess.Via, KMSError>) -> AccessDecision {
            AccessDecision(key: key, encryptionContext: encryptionContext, outcome: outcome)
        }
        func refused(_ message: String) -> AccessDecision { decision(.failure(KMSError(.accessDenied, message))) }
        // Only the policies' conditions read the condition keys (grants' constraints take the
        // encryption context itself): without any, the request's own keys (kms:SigningAlgorithm,
        // kms:MacAlgorithm, ...) are not built either, a tenth of kmsd's CPU under Sign.
        let hasConditions =
            (key?.policy.hasConditions ?? false) || caller.identityPolicies.contains(where: \.hasConditions)
        let context = caller.requestContext(
            action: action, key: key, encryptionContext: encryptionContext, conditions: conditions,
            policiesHaveConditions: hasConditions, now: self.clock.wallNow
        )
        guard let key else {
            // Operations on no key are IAM permissions: an account root has them all in its own
            // account; anyone else needs an identity policy that allows the action on "*".
            if case .denied(let message) = Self.decideWithoutKey(context, caller: caller) {
                return refused(message)
            }
            return decision(.success(.identityPolicy))
        }
        if key.record.account != caller.account, !Self.crossAccountActions.contains(action) {
            // AWS: permissions for other operations have no effect across accounts, whatever
            // the key policy and the caller's identity policies say.
            return refused(
                AccessDenial(
                    principal: caller.principalARN, action: "kms:\(action)", resource: key.record.arn,
                    .because("kms:\(action) cannot be used on a key of another account")
                ).description)
        }
        let access = KeyAccess.decide(
            context, principalAccount: caller.account, keyAccount: key.record.account,
            keyPolicy: key.policy, identityPolicies: caller.identityPolicies, grants: key.grants,
            encryptionContext: encryptionContext, principalRoot: caller.accountRootARN
        )
        switch access {
        case .denied(let message): return refused(message)
        case .allowed(let via): return decision(.success(via))
        }
    }

    /// The operations AWS lets a principal of another account call on a key (by its ARN), when
    /// the key policy and the caller's identity policies both allow it. Every other operation
    /// is refused across accounts.
    static let crossAccountActions: Set<String> = [
        "CreateGrant", "Decrypt", "DescribeKey", "DeriveSharedSecret", "Encrypt", "GenerateDataKey",
        "GenerateDataKeyPair",
        "GenerateDataKeyPairWithoutPlaintext", "GenerateDataKeyWithoutPlaintext", "GenerateMac", "GetKeyRotationStatus",
        "GetPublicKey", "ListGrants", "ReEncryptFrom", "ReEncryptTo", "RetireGrant", "RevokeGrant", "Sign", "Verify",
        "VerifyMac",
    ]

    /// An alias is an IAM resource of its own: CreateAlias, UpdateAlias and DeleteAlias need
    /// the action on the alias ARN from an identity policy (an account root has it in its own
    /// account), besides the action on the key(s) from the key policy.
    public func authorizeAlias(_ caller: Caller, action: String, aliasARN: String) throws(KMSError) {
        let hasConditions = caller.identityPolicies.contains(where: \.hasConditions)
        var context = caller.requestContext(
            action: action, key: nil, encryptionContext: nil, conditions: [:], policiesHaveConditions: hasConditions,
            now: self.clock.wallNow
        )
        context.resource = aliasARN
        if case .denied(let message) = Self.decideWithoutKey(context, caller: caller) {
            throw KMSError(.accessDenied, message)
        }
    }

    /// The custom key store operations: IAM permissions only, as at AWS (no key policy is
    /// involved); an account root has them in its own account, the store's account being the
    /// caller's (a store of another account is never found).
    public func authorizeKeyStore(_ caller: Caller, action: String, storeARN: String?) throws(KMSError) {
        let hasConditions = caller.identityPolicies.contains(where: \.hasConditions)
        var context = caller.requestContext(
            action: action, key: nil, encryptionContext: nil, conditions: [:], policiesHaveConditions: hasConditions,
            now: self.clock.wallNow
        )
        context.resource = storeARN ?? "*"
        if case .denied(let message) = Self.decideWithoutKey(context, caller: caller) {
            throw KMSError(.accessDenied, message)
        }
    }

    /// An action that only identity policies grant (AWS: "kms:RetireGrant is not effective in a
    /// key policy"): a principal of the key's own account whose identity policy allows it on the
    /// key (an account root has it implicitly); an explicit deny in either kind of policy wins.
    /// The decision is on `key`, under no encryption context.
    public func decideByIdentity(_ caller: Caller, action: String, key: CachedKey) -> AccessDecision {
        func denied(_ message: String) -> AccessDecision {
            AccessDecision(key: key, encryptionContext: nil, outcome: .failure(KMSError(.accessDenied, message)))
        }
        if let refusal = self.explicitDenial(caller, action: action, key: key) { return refusal }
        guard caller.account == key.record.account else {
            return denied(
                AccessDenial(
                    principal: caller.principalARN, action: "kms:\(action)", resource: key.record.arn,
                    .detail("only principals of the key's account may be allowed it by policy")
                ).description)
        }
        var context = caller.requestContext(
            action: action, key: key, encryptionContext: nil, conditions: [:],
            policiesHaveConditions: caller.identityPolicies.contains(where: \.hasConditions), now: self.clock.wallNow
        )
        context.resource = key.record.arn
        if case .denied(let message) = Self.decideWithoutKey(context, caller: caller) {
            return denied(message)
        }
        return AccessDecision(key: key, encryptionContext: nil, outcome: .success(.identityPolicy))
    }

    /// RetireGrant by a principal `grant` names: the grant allows it (recorded as what allowed
    /// it), but an explicit deny in the key policy or the caller's identity policies still wins.
    public func decideRetirement(_ caller: Caller, of grant: GrantRecord, key: CachedKey) -> AccessDecision {
        self.explicitDenial(caller, action: "RetireGrant", key: key)
            ?? AccessDecision(key: key, encryptionContext: nil, outcome: .success(.grant(id: grant.grantID)))
    }

    /// The refusal of `action` on `key` when a policy explicitly denies it to the caller; nil
    /// when none does.
    func explicitDenial(_ caller: Caller, action: String, key: CachedKey) -> AccessDecision? {
        guard self.explicitlyDenies(caller, action: action, key: key) else { return nil }
        let refusal = KMSError.accessDenied(
            AccessDenial(
                principal: caller.principalARN, action: "kms:\(action)", resource: key.record.arn,
                .explicitDeny(in: nil)))
        return AccessDecision(key: key, encryptionContext: nil, outcome: .failure(refusal))
    }

    /// Whether the key policy or an identity policy of the caller explicitly denies `action`
    /// on `key`: a deny wins even where a grant's own terms would allow (RetireGrant).
    func explicitlyDenies(_ caller: Caller, action: String, key: CachedKey) -> Bool {
        let hasConditions = key.policy.hasConditions || caller.identityPolicies.contains(where: \.hasConditions)
        let context = caller.requestContext(
            action: action, key: key, encryptionContext: nil, conditions: [:], policiesHaveConditions: hasConditions,
            now: self.clock.wallNow
        )
        if case .explicitDeny = key.policy.evaluate(context) { return true }
        return caller.identityPolicies.contains {
            if case .explicitDeny = $0.evaluate(context) { return true }
            return false
        }
    }

    static func decideWithoutKey(_ context: RequestContext, caller: Caller) -> KeyAccess.Decision {
        func denied(_ reason: AccessDenial.Reason) -> KeyAccess.Decision {
            .denied(
                message: AccessDenial(
                    principal: context.principalARN, action: context.action, resource: context.resource, reason
                ).description)
        }
        var allowed = caller.isAccountRoot
        for policy in caller.identityPolicies {
            switch policy.evaluate(context) {
            case .explicitDeny: return denied(.explicitDeny(in: .identityBased))
            case .allow: allowed = true
            case .notApplicable: break
            }
        }
        return allowed
            ? .allowed(.identityPolicy)
            : denied(.noPolicyAllows(.identityBased))
    }
}
