import KMSDomain
import Testing

@testable import KMSPolicy

/// Holes found reading the policy engine as an attacker would (issue 15): each test fails on the
/// code before the fix.
@Suite struct KeyAccessHardeningTests {
    static let account = "111122223333"
    static let other = "444455556666"
    static let keyARN = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    static let alice = "arn:aws:iam::111122223333:user/alice"
    static let adminIdentity = #"{"Statement": {"Effect": "Allow", "Action": "kms:*", "Resource": "*"}}"#

    static func policy(_ json: String, _ kind: PolicyDocument.Kind = .resource) throws -> PolicyDocument {
        try PolicyDocument.parse(json, kind: kind)
    }

    static func decide(
        _ principal: String, _ action: String, account: String = account, keyPolicy: PolicyDocument,
        identity: [PolicyDocument] = [], grants: [KeyAccess.GrantRule] = [], encryptionContext: [String: String]? = nil
    ) -> KeyAccess.Decision {
        KeyAccess.decide(
            RequestContext(principalARN: principal, action: action, resource: keyARN), principalAccount: account,
            keyAccount: Self.account, keyPolicy: keyPolicy, identityPolicies: identity, grants: grants,
            encryptionContext: encryptionContext
        )
    }

    // MARK: The partition

    /// `decide` named the account root "arn:aws:iam::…:root" whatever the partition, so in
    /// another partition the default key policy delegated to nobody, and the lockout check
    /// refused every policy a non-root administrator put.
    @Test func delegationWorksInEveryPartition() throws {
        for partition in ["aws", "aws-cn", "aws-us-gov", "example"] {
            let keyPolicy = try Self.policy(DefaultKeyPolicy.document(partition: partition, account: Self.account))
            let alice = "arn:\(partition):iam::\(Self.account):user/alice"
            let identity = [try Self.policy(Self.adminIdentity, .identity)]
            #expect(
                Self.decide(alice, "kms:Decrypt", keyPolicy: keyPolicy, identity: identity)
                    == .allowed(.identityPolicy), "\(partition)")
            #expect(!Self.decide(alice, "kms:Decrypt", keyPolicy: keyPolicy).isAllowed, "\(partition)")
            #expect(
                KeyAccess.keepsPolicyAdministrable(
                    keyPolicy, principalARN: alice, principalAccount: Self.account, keyAccount: Self.account,
                    keyARN: Self.keyARN, identityPolicies: identity
                ), "\(partition)")
        }
    }

    /// A bare account id in Principal was stored as "arn:aws:iam::<id>:root", so in another
    /// partition a Deny naming the account by its id did not apply to the account's root.
    @Test func aDenyNamingTheAccountByItsIDAppliesInEveryPartition() throws {
        let keyPolicy = try Self.policy(
            """
            {"Statement": [
              {"Effect": "Allow", "Principal": "*", "Action": "kms:*", "Resource": "*"},
              {"Effect": "Deny", "Principal": {"AWS": "\(Self.account)"}, "Action": "kms:Decrypt", "Resource": "*"}
            ]}
            """)
        for partition in ["aws", "aws-cn"] {
            let root = "arn:\(partition):iam::\(Self.account):root"
            let decision = Self.decide(root, "kms:Decrypt", keyPolicy: keyPolicy)
            #expect(
                decision
                    == .denied(
                        message:
                            "User: \(root) is not authorized to perform: kms:Decrypt on resource: \(Self.keyARN) "
                            + "with an explicit deny in a resource-based policy"
                    ))
            #expect(Self.decide(root, "kms:Encrypt", keyPolicy: keyPolicy).isAllowed)
        }
    }

    // MARK: Deny wins

    /// A Deny naming an account applies to every principal of that account (that is why AWS
    /// asks NotPrincipal denies to list the account too). `decide` returned as soon as the key
    /// policy allowed the principal itself, before looking at the account-level deny.
    @Test func aDenyOnTheAccountAppliesToAPrincipalTheKeyPolicyAllowsByName() throws {
        let keyPolicy = try Self.policy(
            """
            {"Statement": [
              {"Effect": "Allow", "Principal": {"AWS": "\(Self.alice)"}, "Action": "kms:*", "Resource": "*"},
              {"Effect": "Deny", "Principal": {"AWS": "arn:aws:iam::\(Self.account):root"}, "Action": "kms:Decrypt", \
            "Resource": "*"}
            ]}
            """)
        #expect(Self.decide(Self.alice, "kms:Encrypt", keyPolicy: keyPolicy) == .allowed(.keyPolicy))
        #expect(
            Self.decide(Self.alice, "kms:Decrypt", keyPolicy: keyPolicy)
                == .denied(
                    message:
                        "User: \(Self.alice) is not authorized to perform: kms:Decrypt on resource: \(Self.keyARN) "
                        + "with an explicit deny in a resource-based policy"
                ))
        // Across accounts too, where the principal's identity policy allows.
        let outsider = "arn:aws:iam::\(Self.other):role/app"
        let crossAccount = try Self.policy(
            """
            {"Statement": [
              {"Effect": "Allow", "Principal": {"AWS": "\(outsider)"}, "Action": "kms:*", "Resource": "*"},
              {"Effect": "Deny", "Principal": {"AWS": "\(Self.other)"}, "Action": "kms:Decrypt", "Resource": "*"}
            ]}
            """)
        let theirs = [try Self.policy(Self.adminIdentity, .identity)]
        #expect(
            Self.decide(outsider, "kms:Encrypt", account: Self.other, keyPolicy: crossAccount, identity: theirs)
                .isAllowed)
        #expect(
            !Self.decide(outsider, "kms:Decrypt", account: Self.other, keyPolicy: crossAccount, identity: theirs)
                .isAllowed)
    }

    // MARK: The account root

    /// `isRoot` was a suffix test: any principal ARN ending in ":iam::<account>:root" counted as
    /// the account root, with every identity permission. Only the root's own ARN is the root.
    @Test func onlyTheAccountRootsOwnARNIsTheRoot() throws {
        let keyPolicy = try Self.policy(DefaultKeyPolicy.document(partition: "aws", account: Self.account))
        for impostor in [
            "arn:aws:iam::\(Self.account):user/x:iam::\(Self.account):root",
            "arn:aws:sts::\(Self.account):assumed-role/r/s:iam::\(Self.account):root",
            "arn:aws:iam::\(Self.other):role/a:iam::\(Self.account):root",
        ] {
            #expect(!Self.decide(impostor, "kms:Decrypt", keyPolicy: keyPolicy).isAllowed, "\(impostor)")
        }
        #expect(
            Self.decide("arn:aws:iam::\(Self.account):root", "kms:Decrypt", keyPolicy: keyPolicy)
                == .allowed(.keyPolicy))
    }

    // MARK: Determinism

    /// Which Deny statement is reported, and which grant an allow is recorded against, must not
    /// depend on the order of statements or grants.
    @Test func theReportedDenyAndGrantDoNotDependOnOrder() throws {
        let statements = [
            #"{"Sid": "Zeta", "Effect": "Deny", "Principal": "*", "Action": "kms:Decrypt", "Resource": "*"}"#,
            #"{"Sid": "Alpha", "Effect": "Deny", "Principal": "*", "Action": "kms:*", "Resource": "*"}"#,
            #"{"Effect": "Deny", "Principal": "*", "Action": "kms:Decrypt", "Resource": "*"}"#,
            #"{"Sid": "Open", "Effect": "Allow", "Principal": "*", "Action": "kms:*", "Resource": "*"}"#,
        ]
        let context = RequestContext(principalARN: Self.alice, action: "kms:Decrypt", resource: Self.keyARN)
        for order in [[0, 1, 2, 3], [3, 2, 1, 0], [2, 0, 3, 1], [1, 3, 0, 2]] {
            let policy = try Self.policy(
                #"{"Statement": ["# + order.map { statements[$0] }.joined(separator: ",") + "]}")
            #expect(policy.evaluate(context) == .explicitDeny(sid: "Alpha"), "\(order)")
        }
        let keyPolicy = try Self.policy(
            #"{"Statement": {"Effect": "Allow", "Principal": {"AWS": "111122223333"}, "Action": "kms:*", "#
                + #""Resource": "*"}}"#
        )
        let grants = ["g3", "g1", "g2"].map {
            KeyAccess.GrantRule(id: $0, granteePrincipal: Self.alice, operations: ["Decrypt"])
        }
        #expect(
            Self.decide(Self.alice, "kms:Decrypt", keyPolicy: keyPolicy, grants: grants, encryptionContext: [:])
                == .allowed(.grant(id: "g1")))
        #expect(
            Self.decide(
                Self.alice, "kms:Decrypt", keyPolicy: keyPolicy, grants: grants.reversed(), encryptionContext: [:])
                == .allowed(.grant(id: "g1")))
    }
}
