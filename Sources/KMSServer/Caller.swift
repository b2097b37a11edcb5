import Foundation
import KMSDomain
import KMSPolicy
import KMSRPC

/// Who is calling, in which account and region, with what the policies may ask about them.
public struct Caller: Sendable {
    /// The 12-digit account the caller acts in: its principal's account.
    public let account: String
    /// The region of the request: its credential scope's, else the deployment's default.
    public var region: String
    /// The authenticated principal's ARN, as policies and grants name it.
    public let principalARN: String
    /// The root of `account` in the principal's partition, which every key decision reads the key
    /// policy as too (`KeyAccess.rootARN`): made once per principal, not per request.
    public let accountRootARN: String
    /// The access key the connection authenticated with, if any.
    public var accessKeyID: String?
    /// May call the admin service (accounts, principals, access keys, identity policies).
    public var isAdmin: Bool
    /// The principal's identity policies, compiled (none for an account root).
    public var identityPolicies: [PolicyDocument]
    /// aws:SourceIp.
    public var sourceIP: String?
    /// aws:SecureTransport.
    public var secureTransport: Bool
    /// "binary" or "aws-json", for the audit record.
    public var transport: String
    /// What this request touched, for its audit record.
    public let trail = AuditTrail()
    /// The request's id in the audit log and in GetKeyLastUsage (and x-amzn-RequestId on the
    /// AWS JSON endpoint).
    public var requestID = ""
    /// The operation asked for ("Encrypt", "CreateAlias"), for the record of a change.
    public var operation = ""

    /// A caller as authenticated; kmsd's gate (`PolicyGate.caller(for:)`) makes these, tests make their own.
    /// `accountRootARN` is the principal's as its cache entry keeps it; nil: made from `account` and `principalARN`.
    public init(
        account: String, region: String, principalARN: String, accessKeyID: String? = nil, isAdmin: Bool = false,
        identityPolicies: [PolicyDocument] = [], sourceIP: String? = nil, secureTransport: Bool = false,
        transport: String = "binary", accountRootARN: String? = nil
    ) {
        self.account = account
        self.region = region
        self.principalARN = principalARN
        self.accountRootARN = accountRootARN ?? KeyAccess.rootARN(account: account, principalARN: principalARN)
        self.accessKeyID = accessKeyID
        self.isAdmin = isAdmin
        self.identityPolicies = identityPolicies
        self.sourceIP = sourceIP
        self.secureTransport = secureTransport
        self.transport = transport
    }

    var isAccountRoot: Bool { self.principalARN.hasSuffix(":iam::\(self.account):root") }

    /// The actions that report kms:EncryptionAlgorithm.
    static let encryptionActions: Set<String> = ["Encrypt", "Decrypt", "ReEncryptFrom", "ReEncryptTo"]
}

/// Decides who a connection is and whether it may do what it asks.
public protocol RequestGate: Sendable {
    func caller(for connection: RPCConnectionInfo) async throws(KMSError) -> Caller
    /// `key` is nil for operations on no key (CreateKey, ListKeys, GenerateRandom, ...).
    /// `action` is the operation name without its kms: prefix ("Decrypt", "ReEncryptFrom").
    /// `conditions` are the request's own condition keys (kms:GrantOperations, ...).
    /// Decides only, and records nothing: the decision says on which key, under which encryption
    /// context, and what allowed it (the key policy, an identity policy, or which grant) or why not.
    func decide(
        _ caller: Caller, action: String, key: CachedKey?, encryptionContext: [String: String]?,
        conditions: [String: [String]]
    ) -> AccessDecision
    /// The alias half of CreateAlias, UpdateAlias and DeleteAlias: `action` on the alias ARN.
    func authorizeAlias(_ caller: Caller, action: String, aliasARN: String) throws(KMSError)
    /// The custom key store operations, IAM permissions only: `action` on the store's ARN
    /// (nil: on "*", CreateCustomKeyStore and DescribeCustomKeyStores).
    func authorizeKeyStore(_ caller: Caller, action: String, storeARN: String?) throws(KMSError)
    /// `action` on `key` by the caller's identity policies alone, in the key's account.
    func decideByIdentity(_ caller: Caller, action: String, key: CachedKey) -> AccessDecision
    /// RetireGrant by a principal the grant itself names (its retiring principal, or its grantee
    /// when it grants RetireGrant): allowed by that grant unless a policy explicitly denies it.
    func decideRetirement(_ caller: Caller, of grant: GrantRecord, key: CachedKey) -> AccessDecision
}

extension Caller {
    /// "kms:<action>" and its lowercase form for the actions of the requests that use a key's
    /// material, made once: each is an allocation a request otherwise.
    static let keyUseActions: [String: (action: String, folded: String)] = Dictionary(
        uniqueKeysWithValues: KeyUse.allCases.map { use in
            let action = "kms:" + use.action
            return (use.action, (action, action.lowercased()))
        })

    /// The policy evaluation context of this caller doing `action` on `key` (nil: on "*"),
    /// with the request's condition keys when some policy in play has conditions. `now` is the
    /// wall clock's (aws:CurrentTime), the service's injected one.
    func requestContext(
        action: String, key: CachedKey?, encryptionContext: [String: String]?, conditions: [String: [String]],
        policiesHaveConditions: Bool, now: Date
    ) -> RequestContext {
        var context: RequestContext
        if let names = Self.keyUseActions[action] {
            context = RequestContext(
                principalARN: self.principalARN, action: names.action, foldedAction: names.folded,
                resource: key?.record.arn ?? "*")
        } else {
            context = RequestContext(
                principalARN: self.principalARN, action: "kms:\(action)", resource: key?.record.arn ?? "*")
        }
        // Condition keys cost a few microseconds to build; policies without conditions read none.
        guard policiesHaveConditions else { return context }
        context.set("aws:PrincipalArn", self.principalARN)
        context.set("aws:PrincipalAccount", self.account)
        context.set("kms:CallerAccount", self.account)
        context.set("aws:CurrentTime", now)
        context.set("aws:SecureTransport", self.secureTransport)
        // The request's region; ReplicateKey's kms:CreateKey check names the replica's instead.
        context.set("aws:RequestedRegion", self.region)
        if let sourceIP = self.sourceIP { context.set("aws:SourceIp", sourceIP) }
        if let key {
            context.set("kms:KeySpec", key.record.spec.rawValue)
            context.set("kms:KeyUsage", key.record.usage.rawValue)
            context.set("kms:KeyOrigin", key.record.origin.rawValue)
            context.set("kms:MultiRegion", key.record.keyID.isMultiRegion ? "true" : "false")
            if let family = key.record.multiRegion { context.set("kms:MultiRegionKeyType", family.keyType.rawValue) }
            if !key.aliases.isEmpty { context.set("kms:ResourceAliases", key.aliases) }
            if let alias = key.requestAlias { context.set("kms:RequestAlias", alias) }
            // Tag keys that differ only by case are one condition key in IAM: all their values.
            context.setPrefixed("aws:ResourceTag/", key.tags)
            if key.record.spec == .symmetricDefault, Self.encryptionActions.contains(action) {
                context.set("kms:EncryptionAlgorithm", "SYMMETRIC_DEFAULT")
            }
        }
        if let encryptionContext { context.setEncryptionContext(encryptionContext) }
        for (name, values) in conditions { context.set(name, values) }
        return context
    }
}
