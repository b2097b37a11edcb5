import Foundation
import KMSDomain
import KMSPolicy
import KMSStore
import Logging
import PostgresNIO
import Testing

@testable import KMSServer

/// The gate only decides: its decision names the key it judged, the encryption context it judged
/// under and the grant that allowed the action (or the refusal), and it writes nothing into the
/// request's audit trail, which the service fills from the decision. Pure: no process, no I/O
/// (the identity store's client is never run; `decide` reads no principal).
@Suite struct PolicyGateDecisionTests {
    static let account = "111122223333"
    static let alice = "arn:aws:iam::111122223333:user/alice"
    static let rootOnlyPolicy = """
        {"Version":"2012-10-17","Statement":[{"Sid":"Enable IAM User Permissions","Effect":"Allow",
        "Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"}]}
        """

    static func gate() -> PolicyGate {
        let logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
        let client = PostgresClient(
            configuration: .init(host: "127.0.0.1", username: "unused", password: nil, database: nil, tls: .disable))
        return PolicyGate(
            scope: ServiceScope(regions: ["us-east-1"], defaultRegion: "us-east-1", defaultAccount: Self.account),
            identities: IdentityStore(client: client, logger: logger), cache: KeyCache(), logger: logger)
    }

    /// A key whose policy allows only the account's root (or is `policy`), with one grant of
    /// Encrypt to alice.
    static let keyID = KeyID("1234abcd-12ab-34cd-56ef-1234567890ab")!

    /// The key's one grant: Encrypt to alice, retired by `retiring`.
    static func grant(retiring: String? = nil) -> GrantRecord {
        GrantRecord(
            grantID: "grant-1", keyID: Self.keyID, name: nil, granteePrincipal: Self.alice,
            retiringPrincipal: retiring, issuingAccount: Self.account, operations: ["Encrypt"],
            encryptionContextEquals: nil, encryptionContextSubset: nil, creationDate: Date(timeIntervalSince1970: 0))
    }

    static func key(policy: String = Self.rootOnlyPolicy) -> CachedKey {
        let id = Self.keyID
        let grant = Self.grant()
        return CachedKey(
            record: KeyRecord(
                keyID: id, arn: "arn:aws:kms:us-east-1:\(Self.account):key/\(id)", account: Self.account,
                region: "us-east-1", description: "", state: .enabled, usage: .encryptDecrypt,
                spec: .symmetricDefault, origin: .awsKMS, manager: .customer,
                creationDate: Date(timeIntervalSince1970: 0), deletionDate: nil, pendingWindowInDays: nil,
                policy: policy, currentMaterialID: nil, version: 1),
            materials: [], grants: [grant])
    }

    static func trailIsEmpty(_ caller: Caller) -> Bool {
        let details = caller.trail.details.withLock { $0 }
        return details.keyARNs.isEmpty && details.grantID == nil && details.encryptionContext == nil
            && details.alias == nil
    }

    @Test func anAllowedDecisionCarriesTheKeyContextAndGrantAndTouchesNoTrail() throws {
        let caller = Caller(account: Self.account, region: "us-east-1", principalARN: Self.alice)
        let key = Self.key()
        let decision = Self.gate().decide(
            caller, action: "Encrypt", key: key, encryptionContext: ["purpose": "test"], conditions: [:])
        #expect(try decision.get() == .grant(id: "grant-1"))
        #expect(decision.grantID == "grant-1")
        #expect(decision.key?.record.arn == key.record.arn)
        #expect(decision.encryptionContext == ["purpose": "test"])
        #expect(Self.trailIsEmpty(caller))

        // The service records exactly that decision.
        caller.trail.note(decision)
        let details = caller.trail.details.withLock { $0 }
        #expect(details.keyARNs == [key.record.arn])
        #expect(details.grantID == "grant-1")
        #expect(details.encryptionContext == ["purpose": "test"])
    }

    @Test func aRefusalStillNamesTheKeyAndTouchesNoTrail() {
        let caller = Caller(account: Self.account, region: "us-east-1", principalARN: Self.alice)
        let key = Self.key()
        let gate = Self.gate()
        let refused = gate.decide(caller, action: "Decrypt", key: key, encryptionContext: nil, conditions: [:])
        #expect(throws: KMSError.self) { try refused.get() }
        if case .failure(let error) = refused.outcome { #expect(error.code == .accessDenied) }
        #expect(refused.key?.record.arn == key.record.arn)
        #expect(refused.grantID == nil)
        let byIdentity = gate.decideByIdentity(caller, action: "RetireGrant", key: key)
        #expect(throws: KMSError.self) { try byIdentity.get() }
        #expect(byIdentity.key?.record.arn == key.record.arn)
        #expect(Self.trailIsEmpty(caller))

        // Recorded, a refusal names the key it was refused on, and no grant.
        caller.trail.note(refused)
        let details = caller.trail.details.withLock { $0 }
        #expect(details.keyARNs == [key.record.arn])
        #expect(details.grantID == nil)
    }

    @Test func aDecisionOnNoKeyNamesNoKey() {
        let root = Caller(account: Self.account, region: "us-east-1", principalARN: "arn:aws:iam::111122223333:root")
        let decision = Self.gate().decide(root, action: "ListKeys", key: nil, encryptionContext: nil, conditions: [:])
        #expect(decision.key == nil)
        #expect((try? decision.get()) == .identityPolicy)
        root.trail.note(decision)
        #expect(Self.trailIsEmpty(root))
    }

    /// RetireGrant by the principal a grant names is allowed by that grant, which the decision
    /// names; an explicit deny in the key policy still wins, and the refusal names the key.
    @Test func aGrantsOwnRetiringPrincipalIsAllowedByItUnlessExplicitlyDenied() throws {
        let caller = Caller(account: Self.account, region: "us-east-1", principalARN: Self.alice)
        let grant = Self.grant(retiring: Self.alice)
        let allowed = Self.gate().decideRetirement(caller, of: grant, key: Self.key())
        #expect(try allowed.get() == .grant(id: "grant-1"))
        #expect(allowed.key?.record.arn == Self.key().record.arn)
        #expect(Self.trailIsEmpty(caller))

        let denying = Self.key(
            policy: """
                {"Version":"2012-10-17","Statement":[{"Effect":"Allow",
                "Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"},
                {"Effect":"Deny","Principal":{"AWS":"\(Self.alice)"},"Action":"kms:RetireGrant","Resource":"*"}]}
                """)
        let refused = Self.gate().decideRetirement(caller, of: grant, key: denying)
        guard case .failure(let error) = refused.outcome else {
            Issue.record("an explicit deny did not refuse RetireGrant")
            return
        }
        #expect(error.code == KMSError.Code.accessDenied)
        #expect(error.message.contains("explicit deny"))
        #expect(refused.key?.record.arn == denying.record.arn)
        #expect(Self.trailIsEmpty(caller))
    }
    /// The request's own condition keys (kms:SigningAlgorithm here) are read by the conditions of
    /// whichever policy has them, the key's or the caller's; where no policy in play has
    /// conditions they decide nothing (and are not built).
    @Test func theRequestsConditionKeysDecideWherePoliciesHaveConditions() throws {
        let caller = Caller(account: Self.account, region: "us-east-1", principalARN: Self.alice)
        func keyPolicy(_ condition: String) -> String {
            """
            {"Version":"2012-10-17","Statement":[{"Effect":"Allow",
            "Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"},
            {"Effect":"Allow","Principal":{"AWS":"\(Self.alice)"},"Action":"kms:Sign","Resource":"*"\(condition)}]}
            """
        }
        let only256 = #","Condition":{"StringEquals":{"kms:SigningAlgorithm":"ECDSA_SHA_256"}}"#
        let gate = Self.gate()
        func decide(_ caller: Caller, _ key: CachedKey, _ algorithm: String?) -> Bool {
            let conditions = algorithm.map { ["kms:SigningAlgorithm": [$0]] } ?? [:]
            let decision = gate.decide(
                caller, action: "Sign", key: key, encryptionContext: nil, conditions: conditions)
            return (try? decision.get()) != nil
        }
        let conditioned = Self.key(policy: keyPolicy(only256))
        #expect(decide(caller, conditioned, "ECDSA_SHA_256"))
        #expect(!decide(caller, conditioned, "ECDSA_SHA_384"))
        #expect(!decide(caller, conditioned, nil))
        let open = Self.key(policy: keyPolicy(""))
        #expect(decide(caller, open, "ECDSA_SHA_384"))
        #expect(decide(caller, open, nil))

        // The key policy has no conditions, the caller's identity policy has.
        let identity = try PolicyDocument.parse(
            #"""
            {"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:Sign","Resource":"*",
            "Condition":{"StringEquals":{"kms:SigningAlgorithm":"ECDSA_SHA_256"}}}]}
            """#, kind: .identity)
        let delegated = Caller(
            account: Self.account, region: "us-east-1", principalARN: Self.alice, identityPolicies: [identity])
        let rootOnly = Self.key()
        #expect(decide(delegated, rootOnly, "ECDSA_SHA_256"))
        #expect(!decide(delegated, rootOnly, "ECDSA_SHA_384"))
    }
}
