import KMSDomain

/// The AWS KMS authorization decision for one request on one key, from the key policy, the
/// caller's identity policies and the key's grants:
///
/// - an explicit deny in the key policy or in an identity policy wins;
/// - else the key policy allowing the principal itself allows (in the key's own account);
/// - else the key policy allowing the principal's account (its root: delegation) together with
///   an identity policy of the principal allowing it allows; across accounts this is the only way;
/// - else a grant for this principal and operation, whose constraints hold, allows.
public enum KeyAccess {
    /// The outcome: allowed, and by what, or denied with a message naming the caller and the action.
    public enum Decision: Sendable, Hashable {
        case allowed(Via)
        case denied(message: String)

        /// Whether the request may go ahead.
        public var isAllowed: Bool {
            if case .allowed = self { return true }
            return false
        }
    }

    /// What allowed a request: the grant's id is recorded in the audit log.
    public enum Via: Sendable, Hashable {
        case keyPolicy
        case identityPolicy
        case grant(id: String)
    }

    /// A grant as evaluation needs it.
    public struct GrantRule: Sendable, Hashable {
        /// The grant's id, which the audit log records when the grant allows a request.
        public let id: String
        /// The principal ARN the grant is for, compared exactly.
        public let granteePrincipal: String
        /// Operation names without the kms: prefix ("Decrypt").
        public let operations: Set<String>
        /// Applies, where an operation takes an encryption context, only when it is exactly this.
        public let encryptionContextEquals: [String: String]?
        /// Applies, where an operation takes an encryption context, only when it includes all of these pairs.
        public let encryptionContextSubset: [String: String]?

        /// A grant rule from a stored grant's fields; no constraints unless given.
        public init(
            id: String, granteePrincipal: String, operations: Set<String>,
            encryptionContextEquals: [String: String]? = nil, encryptionContextSubset: [String: String]? = nil
        ) {
            self.id = id
            self.granteePrincipal = granteePrincipal
            self.operations = operations
            self.encryptionContextEquals = encryptionContextEquals
            self.encryptionContextSubset = encryptionContextSubset
        }

        /// Whether this grant lets `principal` do `operation` with `encryptionContext`.
        ///
        /// As AWS documents for grant constraints: they apply only to the operations that take
        /// an encryption context (`encryptionContextOperations`), where a missing context is an
        /// empty one; DescribeKey, RetireGrant, CreateGrant and the like ignore them (a grant
        /// created on the authority of a constrained grant must carry the constraint instead:
        /// `permitsChild`). Constraint keys ignore case, values do not.
        func allows(principal: String, operation: String, encryptionContext: [String: String]?) -> Bool {
            guard principal == self.granteePrincipal, self.operations.contains(operation) else { return false }
            guard KeyAccess.encryptionContextOperations.contains(operation) else { return true }
            return GrantConstraints(equals: self.encryptionContextEquals, subset: self.encryptionContextSubset)
                .allow(encryptionContext ?? [:])
        }
    }

    /// The operations that take an encryption context, to which grant constraints apply.
    public static let encryptionContextOperations: Set<String> = [
        "Encrypt", "Decrypt", "ReEncryptFrom", "ReEncryptTo", "GenerateDataKey", "GenerateDataKeyWithoutPlaintext",
        "GenerateDataKeyPair", "GenerateDataKeyPairWithoutPlaintext",
    ]

    /// The root ARN of `account` in the partition of `principalARN` ("aws" when it is not an ARN):
    /// the principal a key policy's account statement names on the principal's behalf.
    public static func rootARN(account: String, principalARN: String) -> String {
        RootARN.of(account: account, partition: RootARN.partition(of: principalARN))
    }

    /// `context` names the principal, the kms: action and the key ARN, with its condition keys.
    /// An account's root has every identity permission in its own account implicitly.
    ///
    /// Every explicit deny is looked for before any allow counts: in an identity policy, and in
    /// the key policy read both for the principal and for its account (a Deny naming the account
    /// applies to all its principals, as in AWS). The account root is named in the principal's
    /// own partition: `principalRoot` is that ARN when the caller has it already (kmsd keeps it
    /// with each cached principal, `rootARN(account:principalARN:)`), else it is made here.
    public static func decide(
        _ context: RequestContext,
        principalAccount: String,
        keyAccount: String,
        keyPolicy: PolicyDocument,
        identityPolicies: [PolicyDocument],
        grants: [GrantRule] = [],
        encryptionContext: [String: String]? = nil,
        principalRoot: String? = nil
    ) -> Decision {
        func denied(_ reason: AccessDenial.Reason) -> Decision {
            .denied(
                message: AccessDenial(
                    principal: context.principalARN, action: context.action, resource: context.resource, reason
                ).description)
        }
        let root = principalRoot ?? Self.rootARN(account: principalAccount, principalARN: context.principalARN)
        assert(root == Self.rootARN(account: principalAccount, principalARN: context.principalARN))
        let isRoot = context.principalARN == root
        let (direct, delegated) = keyPolicy.evaluate(context, alsoAs: isRoot ? nil : (root, principalAccount))
        if case .explicitDeny = direct {
            return denied(.explicitDeny(in: .resourceBased))
        }
        if case .explicitDeny = delegated {
            return denied(.explicitDeny(in: .resourceBased))
        }
        var identity: PolicyDecision = .notApplicable
        for policy in identityPolicies {
            switch policy.evaluate(context) {
            case .explicitDeny:
                return denied(.explicitDeny(in: .identityBased))
            case .allow:
                identity = .allow
            case .notApplicable:
                break
            }
        }
        let identityAllows = identity == .allow || isRoot
        let sameAccount = principalAccount == keyAccount
        // For the root itself, the delegated reading is the direct one.
        let accountAllowed = isRoot ? direct == .allow : delegated == .allow

        if direct == .allow, sameAccount || identityAllows {
            return .allowed(.keyPolicy)
        }
        if accountAllowed, identityAllows {
            return .allowed(identity == .allow && !isRoot ? .identityPolicy : .keyPolicy)
        }
        let operation = context.action.hasPrefix("kms:") ? String(context.action.dropFirst(4)) : context.action
        // The least id of the grants that allow, so the grant recorded does not depend on order.
        var grantID: String?
        for grant in grants where grantID.map({ grant.id < $0 }) ?? true {
            if grant.allows(principal: context.principalARN, operation: operation, encryptionContext: encryptionContext)
            {
                grantID = grant.id
            }
        }
        if let grantID {
            return .allowed(.grant(id: grantID))
        }
        if accountAllowed || direct == .allow {
            return denied(.noPolicyAllows(.identityBased))
        }
        return denied(.noPolicyAllows(.resourceBased))
    }

    /// The lockout safety check of CreateKey and PutKeyPolicy: would the caller still be able to
    /// change this policy under it? Read with only the caller's identity condition keys; prefer
    /// the overload that takes the request's context, so that conditions on the source address,
    /// transport or time read as they will on the caller's next PutKeyPolicy.
    public static func keepsPolicyAdministrable(
        _ policy: PolicyDocument, principalARN: String, principalAccount: String, keyAccount: String, keyARN: String,
        identityPolicies: [PolicyDocument]
    ) -> Bool {
        var context = RequestContext(principalARN: principalARN, action: "kms:PutKeyPolicy", resource: keyARN)
        context.set("aws:PrincipalArn", principalARN)
        context.set("aws:PrincipalAccount", principalAccount)
        context.set("kms:CallerAccount", principalAccount)
        return keepsPolicyAdministrable(
            policy, context: context, principalAccount: principalAccount, keyAccount: keyAccount, keyARN: keyARN,
            identityPolicies: identityPolicies
        )
    }

    /// The lockout safety check, for the request being made: `context` is its principal and
    /// condition keys (build them all: whether the new policy has conditions is not known when
    /// the request's context skips them for policies without). It asks whether a kms:PutKeyPolicy
    /// on `keyARN`, under the same conditions and without the bypass, would be allowed.
    public static func keepsPolicyAdministrable(
        _ policy: PolicyDocument, context: RequestContext, principalAccount: String, keyAccount: String, keyARN: String,
        identityPolicies: [PolicyDocument]
    ) -> Bool {
        var next = context
        next.action = "kms:PutKeyPolicy"
        next.resource = keyARN
        next.set("kms:BypassPolicyLockoutSafetyCheck", false)
        return decide(
            next, principalAccount: principalAccount, keyAccount: keyAccount, keyPolicy: policy,
            identityPolicies: identityPolicies
        ).isAllowed
    }
}
