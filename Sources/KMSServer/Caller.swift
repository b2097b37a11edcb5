import Foundation
import KMSDomain
import KMSPolicy
import KMSRPC

/// Who is calling, in which account and region. Until authentication lands, every connection
/// acts as the configured account's root; `RequestGate` is the one seam where authentication
/// and authorization plug in.
public struct Caller: Sendable, Hashable {
    public var account: String
    public var region: String
    public var principalARN: String

    public init(account: String, region: String, principalARN: String) {
        self.account = account
        self.region = region
        self.principalARN = principalARN
    }
}

/// Decides who a connection is and whether it may do what it asks.
public protocol RequestGate: Sendable {
    func caller(for connection: RPCConnectionInfo) throws(KMSError) -> Caller
    /// `key` is nil for operations on no key (CreateKey, ListKeys, GenerateRandom, ...).
    /// `action` is the operation name without its kms: prefix ("Decrypt", "ReEncryptFrom").
    func authorize(_ caller: Caller, action: String, key: CachedKey?, encryptionContext: [String: String]?) throws(KMSError)

    /// The identity policies of the caller, for the lockout safety check.
    func identityPolicies(of caller: Caller) -> [PolicyDocument]
}

extension RequestGate {
    func authorize(_ caller: Caller, action: String, key: CachedKey?) throws(KMSError) {
        try self.authorize(caller, action: action, key: key, encryptionContext: nil)
    }
}

extension Caller {
    /// The policy evaluation context of this caller doing `action` on `key`, with the request's
    /// condition keys.
    func requestContext(action: String, key: CachedKey, encryptionContext: [String: String]?) -> RequestContext {
        var context = RequestContext(principalARN: self.principalARN, action: "kms:\(action)", resource: key.record.arn)
        // Condition keys cost a few microseconds to build; a policy without conditions reads none.
        // (Once identity policies are evaluated, theirs must be asked too.)
        guard key.policy.hasConditions else { return context }
        context.set("aws:PrincipalArn", self.principalARN)
        context.set("aws:PrincipalAccount", self.account)
        context.set("kms:CallerAccount", self.account)
        context.set("aws:CurrentTime", Date())
        context.set("kms:KeySpec", key.record.spec.rawValue)
        context.set("kms:KeyUsage", key.record.usage.rawValue)
        context.set("kms:KeyOrigin", key.record.origin.rawValue)
        if let encryptionContext { context.setEncryptionContext(encryptionContext) }
        return context
    }
}

/// Every connection is the account root of the default account: the behaviour before
/// authentication exists, and of an explicitly insecure development setup.
public struct AccountRootGate: RequestGate {
    let scope: ServiceScope

    public init(scope: ServiceScope) {
        self.scope = scope
    }

    public func caller(for connection: RPCConnectionInfo) throws(KMSError) -> Caller {
        Caller(
            account: self.scope.defaultAccount, region: self.scope.defaultRegion,
            principalARN: "arn:\(self.scope.partition):iam::\(self.scope.defaultAccount):root"
        )
    }

    /// The account root has every identity permission in its account; what it may do to a key
    /// is what the key policy says.
    public func authorize(_ caller: Caller, action: String, key: CachedKey?, encryptionContext: [String: String]?) throws(KMSError) {
        guard let key else { return }
        let decision = KeyAccess.decide(
            caller.requestContext(action: action, key: key, encryptionContext: encryptionContext),
            principalAccount: caller.account, keyAccount: key.record.account,
            keyPolicy: key.policy, identityPolicies: [], grants: key.grants, encryptionContext: encryptionContext
        )
        if case .denied(let message) = decision {
            throw KMSError(.accessDenied, message)
        }
    }

    public func identityPolicies(of caller: Caller) -> [PolicyDocument] { [] }
}
