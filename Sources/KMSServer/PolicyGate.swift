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
    public let record: PrincipalRecord
    public let policies: [PolicyDocument]
    public let activeAccessKeys: Set<String>
    public let policiesHaveConditions: Bool

    public init(record: PrincipalRecord, policies: [IdentityPolicyRecord], accessKeys: [AccessKeyRecord]) {
        self.record = record
        // Policies are validated before they are stored; one that no longer parses allows nothing.
        self.policies = policies.compactMap { try? PolicyDocument.parse($0.document, kind: .identity) }
        self.activeAccessKeys = Set(accessKeys.filter { $0.status == .active }.map(\.accessKeyID))
        self.policiesHaveConditions = self.policies.contains(where: \.hasConditions)
    }

    public var arn: String { self.record.arn }
}

/// Authorization as AWS does it: the key policy, the caller's identity policies and the key's
/// grants (see `KeyAccess`), for the principal each connection authenticated as.
public struct PolicyGate: RequestGate {
    let scope: ServiceScope
    let identities: IdentityStore
    let cache: KeyCache
    let logger: Logger

    public init(scope: ServiceScope, identities: IdentityStore, cache: KeyCache, logger: Logger) {
        self.scope = scope
        self.identities = identities
        self.cache = cache
        self.logger = logger
    }

    static func invalidToken() -> KMSError {
        KMSError(.unrecognizedClient, "The security token included in the request is invalid.")
    }

    public func caller(for connection: RPCConnectionInfo) async throws(KMSError) -> Caller {
        guard let identity = connection.identity else {
            throw KMSError(.missingAuthenticationToken, "The request is not authenticated.")
        }
        let sourceIP = connection.remoteIP
        if identity.method == .anonymous {
            // Insecure development mode only: the default account's root, with admin rights.
            return Caller(
                account: self.scope.defaultAccount, region: self.scope.defaultRegion, principalARN: identity.principalARN,
                isAdmin: true, sourceIP: sourceIP, secureTransport: connection.secureTransport
            )
        }
        guard let principal = try await self.principal(identity.principalARN) else { throw Self.invalidToken() }
        if let accessKeyID = identity.accessKeyID, !principal.activeAccessKeys.contains(accessKeyID) {
            throw Self.invalidToken()
        }
        return Caller(
            account: principal.record.accountID, region: identity.region ?? self.scope.defaultRegion, principalARN: principal.arn,
            accessKeyID: identity.accessKeyID, isAdmin: principal.record.isAdmin,
            identityPolicies: principal.record.kind == .root ? [] : principal.policies,
            sourceIP: sourceIP, secureTransport: connection.secureTransport,
            transport: identity.method == .signature ? "aws-json" : "binary"
        )
    }

    /// A principal from the cache, or from PostgreSQL; nil when it does not exist.
    func principal(_ arn: String) async throws(KMSError) -> CachedPrincipal? {
        if let cached = self.cache.principal(arn) { return cached }
        let generation = self.cache.generation
        return try await storeCall(logger: self.logger) {
            guard let record = try await self.identities.principal(arn) else { return nil }
            let policies = try await self.identities.policies(of: arn)
            let keys = try await self.identities.accessKeys(of: arn)
            let principal = CachedPrincipal(record: record, policies: policies, accessKeys: keys)
            self.cache.storePrincipal(principal, loadedAt: generation)
            return principal
        }
    }

    public func authorize(
        _ caller: Caller, action: String, key: CachedKey?, encryptionContext: [String: String]?, conditions: [String: [String]]
    ) throws(KMSError) {
        let hasConditions = (key?.policy.hasConditions ?? false) || caller.identityPolicies.contains(where: \.hasConditions)
        let context = caller.requestContext(
            action: action, key: key, encryptionContext: encryptionContext, conditions: conditions,
            policiesHaveConditions: hasConditions || !conditions.isEmpty
        )
        guard let key else {
            // Operations on no key are IAM permissions: an account root has them all in its own
            // account; anyone else needs an identity policy that allows the action on "*".
            if case .denied(let message) = Self.decideWithoutKey(context, caller: caller) {
                throw KMSError(.accessDenied, message)
            }
            return
        }
        caller.trail.note(key: key, encryptionContext: encryptionContext)
        let decision = KeyAccess.decide(
            context, principalAccount: caller.account, keyAccount: key.record.account,
            keyPolicy: key.policy, identityPolicies: caller.identityPolicies, grants: key.grants,
            encryptionContext: encryptionContext
        )
        switch decision {
        case .denied(let message): throw KMSError(.accessDenied, message)
        case .allowed(.grant(let id)): caller.trail.note(grantID: id)
        case .allowed: break
        }
    }

    static func decideWithoutKey(_ context: RequestContext, caller: Caller) -> KeyAccess.Decision {
        let subject = "User: \(context.principalARN) is not authorized to perform: \(context.action) on resource: \(context.resource)"
        var allowed = caller.isAccountRoot
        for policy in caller.identityPolicies {
            switch policy.evaluate(context) {
            case .explicitDeny: return .denied(message: "\(subject) with an explicit deny in an identity-based policy")
            case .allow: allowed = true
            case .notApplicable: break
            }
        }
        return allowed ? .allowed(.identityPolicy) : .denied(message: "\(subject) because no identity-based policy allows the \(context.action) action")
    }
}
