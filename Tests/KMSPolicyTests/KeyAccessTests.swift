import KMSDomain
import KMSPolicy
import Testing

@Suite struct KeyAccessTests {
    static let account = "111122223333"
    static let keyARN = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    static let alice = "arn:aws:iam::111122223333:user/alice"
    static let outsider = "arn:aws:iam::444455556666:role/app"

    static func policy(_ json: String, _ kind: PolicyDocument.Kind = .resource) throws -> PolicyDocument {
        try PolicyDocument.parse(json, kind: kind)
    }

    static func context(_ principal: String, _ action: String) -> RequestContext {
        RequestContext(principalARN: principal, action: action, resource: keyARN)
    }

    static let adminIdentity = """
        {"Statement": {"Effect": "Allow", "Action": "kms:*", "Resource": "*"}}
        """

    @Test func theDocsTrapAnIdentityAdminIsDeniedWithoutDelegation() throws {
        // The key policy names only a specific role, not the account root: identity policies
        // of the account count for nothing.
        let keyPolicy = try Self.policy(
            """
            {"Statement": {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:role/keyadmin"}, \
            "Action": "kms:*", "Resource": "*"}}
            """)
        let decision = KeyAccess.decide(
            Self.context(Self.alice, "kms:Decrypt"), principalAccount: Self.account, keyAccount: Self.account,
            keyPolicy: keyPolicy, identityPolicies: [try Self.policy(Self.adminIdentity, .identity)]
        )
        #expect(
            decision
                == .denied(
                    message:
                        "User: \(Self.alice) is not authorized to perform: kms:Decrypt on resource: \(Self.keyARN) "
                        + "because no resource-based policy allows the kms:Decrypt action"
                ))
    }

    /// The account root kmsd keeps per principal is the one decide would make: in the principal's
    /// partition, "aws" for a principal that is not an ARN; passed in, it decides the same.
    @Test func theRootARNIsTheAccountsInThePrincipalsPartition() throws {
        #expect(KeyAccess.rootARN(account: Self.account, principalARN: Self.alice) == "arn:aws:iam::111122223333:root")
        #expect(
            KeyAccess.rootARN(account: Self.account, principalARN: "arn:aws-cn:iam::111122223333:user/bob")
                == "arn:aws-cn:iam::111122223333:root")
        #expect(KeyAccess.rootARN(account: Self.account, principalARN: "anonymous") == "arn:aws:iam::111122223333:root")
        let keyPolicy = try Self.policy(DefaultKeyPolicy.document(partition: "aws", account: Self.account))
        for (principal, identity) in [
            (Self.alice, [try Self.policy(Self.adminIdentity, .identity)]), (Self.alice, []),
            ("arn:aws:iam::111122223333:root", []), (Self.outsider, [try Self.policy(Self.adminIdentity, .identity)]),
        ] {
            let account = principal == Self.outsider ? "444455556666" : Self.account
            let made = KeyAccess.decide(
                Self.context(principal, "kms:Decrypt"), principalAccount: account, keyAccount: Self.account,
                keyPolicy: keyPolicy, identityPolicies: identity)
            let given = KeyAccess.decide(
                Self.context(principal, "kms:Decrypt"), principalAccount: account, keyAccount: Self.account,
                keyPolicy: keyPolicy, identityPolicies: identity,
                principalRoot: KeyAccess.rootARN(account: account, principalARN: principal))
            #expect(made == given)
        }
    }

    @Test func theDefaultPolicyDelegatesToIdentityPolicies() throws {
        let keyPolicy = try Self.policy(DefaultKeyPolicy.document(partition: "aws", account: Self.account))
        let allowed = KeyAccess.decide(
            Self.context(Self.alice, "kms:Decrypt"), principalAccount: Self.account, keyAccount: Self.account,
            keyPolicy: keyPolicy, identityPolicies: [try Self.policy(Self.adminIdentity, .identity)]
        )
        #expect(allowed == .allowed(.identityPolicy))
        let none = KeyAccess.decide(
            Self.context(Self.alice, "kms:Decrypt"), principalAccount: Self.account, keyAccount: Self.account,
            keyPolicy: keyPolicy, identityPolicies: []
        )
        #expect(!none.isAllowed)
        let root = KeyAccess.decide(
            Self.context("arn:aws:iam::111122223333:root", "kms:PutKeyPolicy"), principalAccount: Self.account,
            keyAccount: Self.account, keyPolicy: keyPolicy, identityPolicies: []
        )
        #expect(root == .allowed(.keyPolicy))
    }

    @Test func anIdentityDenyOverridesTheKeyPolicy() throws {
        let keyPolicy = try Self.policy(
            """
            {"Statement": {"Effect": "Allow", "Principal": {"AWS": "\(Self.alice)"}, "Action": "kms:*", "Resource": \
            "*"}}
            """)
        let deny = try Self.policy(
            """
            {"Statement": {"Effect": "Deny", "Action": "kms:Decrypt", "Resource": "*"}}
            """, .identity)
        #expect(
            KeyAccess.decide(
                Self.context(Self.alice, "kms:Encrypt"), principalAccount: Self.account, keyAccount: Self.account,
                keyPolicy: keyPolicy, identityPolicies: [deny]) == .allowed(.keyPolicy))
        let decision = KeyAccess.decide(
            Self.context(Self.alice, "kms:Decrypt"), principalAccount: Self.account, keyAccount: Self.account,
            keyPolicy: keyPolicy, identityPolicies: [deny])
        #expect(
            decision
                == .denied(
                    message:
                        "User: \(Self.alice) is not authorized to perform: kms:Decrypt on resource: \(Self.keyARN) "
                        + "with an explicit deny in an identity-based policy"
                ))
    }

    @Test func crossAccountNeedsBothTheKeyPolicyAndTheCallersAccount() throws {
        let keyPolicy = try Self.policy(
            """
            {"Statement": [
              {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "kms:*", \
            "Resource": "*"},
              {"Effect": "Allow", "Principal": {"AWS": "444455556666"}, "Action": ["kms:Decrypt", "kms:Encrypt"], \
            "Resource": "*"}
            ]}
            """)
        let theirs = try Self.policy(Self.adminIdentity, .identity)
        #expect(
            KeyAccess.decide(
                Self.context(Self.outsider, "kms:Decrypt"), principalAccount: "444455556666", keyAccount: Self.account,
                keyPolicy: keyPolicy, identityPolicies: [theirs]) == .allowed(.identityPolicy))
        #expect(
            !KeyAccess.decide(
                Self.context(Self.outsider, "kms:Decrypt"), principalAccount: "444455556666", keyAccount: Self.account,
                keyPolicy: keyPolicy, identityPolicies: []
            ).isAllowed)
        #expect(
            !KeyAccess.decide(
                Self.context(Self.outsider, "kms:DisableKey"), principalAccount: "444455556666",
                keyAccount: Self.account, keyPolicy: keyPolicy, identityPolicies: [theirs]
            ).isAllowed)
    }

    @Test func aGrantAllowsOnlyItsOperationsUnderItsConstraints() throws {
        let keyPolicy = try Self.policy(DefaultKeyPolicy.document(partition: "aws", account: Self.account))
        let grant = KeyAccess.GrantRule(
            id: "g1", granteePrincipal: Self.alice, operations: ["Decrypt"], encryptionContextSubset: ["app": "web"])
        func decide(_ action: String, _ context: [String: String]?) -> KeyAccess.Decision {
            KeyAccess.decide(
                Self.context(Self.alice, action), principalAccount: Self.account, keyAccount: Self.account,
                keyPolicy: keyPolicy, identityPolicies: [], grants: [grant], encryptionContext: context)
        }
        #expect(decide("kms:Decrypt", ["app": "web", "x": "y"]) == .allowed(.grant(id: "g1")))
        #expect(!decide("kms:Decrypt", ["app": "db"]).isAllowed)
        #expect(!decide("kms:Decrypt", nil).isAllowed)
        #expect(!decide("kms:Encrypt", ["app": "web"]).isAllowed)
        let exact = KeyAccess.GrantRule(
            id: "g2", granteePrincipal: Self.alice, operations: ["Decrypt"], encryptionContextEquals: ["app": "web"])
        let strict = KeyAccess.decide(
            Self.context(Self.alice, "kms:Decrypt"), principalAccount: Self.account, keyAccount: Self.account,
            keyPolicy: keyPolicy, identityPolicies: [], grants: [exact], encryptionContext: ["app": "web", "x": "y"])
        #expect(!strict.isAllowed)
    }

    @Test func lockoutSafetyCheck() throws {
        let lockout = try Self.policy(
            """
            {"Statement": {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:role/other"}, "Action": \
            "kms:*", "Resource": "*"}}
            """)
        #expect(
            !KeyAccess.keepsPolicyAdministrable(
                lockout, principalARN: "arn:aws:iam::111122223333:root", principalAccount: Self.account,
                keyAccount: Self.account, keyARN: Self.keyARN, identityPolicies: []))
        let fine = try Self.policy(DefaultKeyPolicy.document(partition: "aws", account: Self.account))
        #expect(
            KeyAccess.keepsPolicyAdministrable(
                fine, principalARN: "arn:aws:iam::111122223333:root", principalAccount: Self.account,
                keyAccount: Self.account, keyARN: Self.keyARN, identityPolicies: []))
        let denyPut = try Self.policy(
            """
            {"Statement": [
              {"Effect": "Allow", "Principal": {"AWS": "111122223333"}, "Action": "kms:*", "Resource": "*"},
              {"Effect": "Deny", "Principal": "*", "Action": "kms:PutKeyPolicy", "Resource": "*"}
            ]}
            """)
        #expect(
            !KeyAccess.keepsPolicyAdministrable(
                denyPut, principalARN: "arn:aws:iam::111122223333:root", principalAccount: Self.account,
                keyAccount: Self.account, keyARN: Self.keyARN, identityPolicies: []))
    }
}
