import Foundation
import KMSClient
import KMSProto
import KMSTestSupport
import Testing

/// Issue 15's confirmed holes in key references, aliases and AWS managed keys, each tried the
/// way the probe tried it: another account, another region, a caller without permissions.
@Suite struct TenancyTests {
    static let accountA = "111122223333"
    static let accountB = "444455556666"
    static let kmsAll = PrincipalPolicyTests.policy(#"{"Effect": "Allow", "Action": "kms:*", "Resource": "*"}"#)

    /// A key of account A whose policy also gives account B kms:* (so only AWS's own
    /// cross-account rules stand between B and the key).
    static func sharedKey(_ stack: KMSStack) async throws -> KMSKeyMetadata {
        var create = KMSCreateKeyRequest()
        create.policy = PrincipalPolicyTests.policy(
            """
            {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::\(accountA):root"}, "Action": "kms:*", "Resource": \
            "*"},
            {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::\(accountB):root"}, "Action": "kms:*", "Resource": \
            "*"}
            """)
        return try await stack.client.call(KMSMethod.createKey, create).keyMetadata
    }

    @Test func keyReferencesResolveInTheCallersAccountAndRegionOnly() async throws {
        let stack = try await KMSStack.start(kmsdArguments: ["--regions", "us-east-1,eu-west-1"])
        let (_, partner) = try await stack.principal("partner", account: Self.accountB, policies: ["all": Self.kmsAll])
        let key = try await Self.sharedKey(stack)
        try await stack.client.createAlias("alias/shared", key.keyID)

        // By its ARN the key is found, and AWS's cross-account operations work.
        let blob = try await partner.encrypt(key.arn, [1])
        #expect(try await partner.decrypt(blob).plaintext == Data([1]))
        // A bare key id or alias name names a key of the caller's own account: not this one.
        #expect(await code { _ = try await partner.encrypt(key.keyID, [1]) } == "NotFoundException")
        #expect(await code { _ = try await partner.describe(key.keyID) } == "NotFoundException")
        #expect(await code { _ = try await partner.encrypt("alias/shared", [1]) } == "NotFoundException")
        // The alias ARN names it (crypto operations accept alias ARNs across accounts).
        _ = try await partner.encrypt("arn:aws:kms:us-east-1:\(Self.accountA):alias/shared", [1])
        // An ARN must be the key's own: its key id under another account, or in another region, is no key.
        #expect(
            await code { _ = try await partner.encrypt("arn:aws:kms:us-east-1:\(Self.accountB):key/\(key.keyID)", [1]) }
                == "NotFoundException")
        #expect(
            await code {
                _ = try await stack.client.encrypt("arn:aws:kms:eu-west-1:\(Self.accountA):key/\(key.keyID)", [1])
            } == "NotFoundException")
        #expect(
            await code {
                _ = try await stack.client.encrypt("arn:aws:kms:eu-west-1:\(Self.accountA):alias/shared", [1])
            } == "NotFoundException")
        // Operations AWS does not allow across accounts stay refused, whatever the policies say.
        #expect(await code { try await partner.setEnabled(key.arn, false) } == "AccessDeniedException")
        var tag = KMSTagResourceRequest()
        tag.keyID = key.arn
        tag.tags = [
            KMSTag.with {
                $0.tagKey = "owner"
                $0.tagValue = "b"
            }
        ]
        #expect(await code { _ = try await partner.call(KMSMethod.tagResource, tag) } == "AccessDeniedException")
        #expect(try await stack.client.describe(key.keyID).keyState == .enabled)
        await stack.stop()
    }

    /// Each account's keys made without a policy get that account's default policy (kmsd makes
    /// it once per account, DefaultPolicies): one account's never reaches another's keys.
    @Test func aKeyWithoutAPolicyGetsItsOwnAccountsDefaultPolicy() async throws {
        let stack = try await KMSStack.start()
        let (_, partner) = try await stack.principal("partner", account: Self.accountB, policies: ["all": Self.kmsAll])
        for _ in 0..<2 {
            for (client, account, other) in [
                (stack.client, Self.accountA, Self.accountB), (partner, Self.accountB, Self.accountA),
            ] {
                let key = try await client.createKey()
                var get = KMSGetKeyPolicyRequest()
                get.keyID = key.keyID
                let policy = try await client.call(KMSMethod.getKeyPolicy, get).policy
                #expect(policy.contains("arn:aws:iam::\(account):root"))
                #expect(!policy.contains(other))
                #expect(try await client.encrypt(key.keyID, [1]).count > 0)
            }
        }
        // Account A's own key policy gives B nothing: its default names A's root only.
        let keyOfA = try await stack.client.createKey()
        #expect(
            await code { _ = try await partner.encrypt(keyOfA.arn, [1]) } == "AccessDeniedException")
        await stack.stop()
    }

    @Test func anAliasAndItsKeyAreAlwaysInOneAccountAndAliasesAreResources() async throws {
        let stack = try await KMSStack.start()
        let (_, partner) = try await stack.principal("partner", account: Self.accountB, policies: ["all": Self.kmsAll])
        let victim = try await Self.sharedKey(stack)
        let own = try await partner.createKey("b's key")
        try await partner.createAlias("alias/b-data", own.keyID)
        // UpdateAlias may not point B's alias at A's key: by ARN or by bare id.
        var update = KMSUpdateAliasRequest()
        update.aliasName = "alias/b-data"
        update.targetKeyID = victim.arn
        #expect(await code { _ = try await partner.call(KMSMethod.updateAlias, update) } == "NotFoundException")
        update.targetKeyID = victim.keyID
        #expect(await code { _ = try await partner.call(KMSMethod.updateAlias, update) } == "NotFoundException")
        #expect(await code { try await partner.createAlias("alias/b-other", victim.arn) } == "NotFoundException")
        var describe = KMSDescribeKeyRequest()
        describe.keyID = "alias/b-data"
        #expect(try await partner.call(KMSMethod.describeKey, describe).keyMetadata.keyID == own.keyID)

        // Alias permissions are evaluated on the alias ARN: an identity policy that allows the
        // alias actions on keys only, or denies them on some alias names, is obeyed.
        let (_, keysOnly) = try await stack.principal(
            "keys-only",
            policies: [
                "p": PrincipalPolicyTests.policy(
                    """
                    {"Effect": "Allow", "Action": "kms:*", "Resource": "arn:aws:kms:*:*:key/*"}
                    """)
            ])
        let (_, guarded) = try await stack.principal(
            "guarded",
            policies: [
                "p": PrincipalPolicyTests.policy(
                    """
                    {"Effect": "Allow", "Action": "kms:*", "Resource": "*"},
                    {"Effect": "Deny", "Action": ["kms:CreateAlias", "kms:DeleteAlias", "kms:UpdateAlias"], \
                    "Resource": "arn:aws:kms:*:*:alias/prod-*"}
                    """)
            ])
        let key = try await stack.client.createKey()
        let second = try await stack.client.createKey()
        #expect(await code { try await keysOnly.createAlias("alias/app", key.keyID) } == "AccessDeniedException")
        try await guarded.createAlias("alias/dev-app", key.keyID)
        #expect(await code { try await guarded.createAlias("alias/prod-app", key.keyID) } == "AccessDeniedException")
        try await stack.client.createAlias("alias/prod-db", key.keyID)
        update.aliasName = "alias/prod-db"
        update.targetKeyID = second.keyID
        #expect(await code { _ = try await guarded.call(KMSMethod.updateAlias, update) } == "AccessDeniedException")
        var delete = KMSDeleteAliasRequest()
        delete.aliasName = "alias/prod-db"
        #expect(await code { _ = try await guarded.call(KMSMethod.deleteAlias, delete) } == "AccessDeniedException")
        delete.aliasName = "alias/dev-app"
        #expect(await code { _ = try await keysOnly.call(KMSMethod.deleteAlias, delete) } == "AccessDeniedException")
        _ = try await guarded.call(KMSMethod.deleteAlias, delete)
        // UpdateAlias needs the permission on the new key too: a key whose policy names only the admin.
        var create = KMSCreateKeyRequest()
        create.policy = PrincipalPolicyTests.policy(
            """
            {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::\(Self.accountA):user/admin"}, "Action": "kms:*", \
            "Resource": "*"}
            """)
        let adminsOnly = try await stack.client.call(KMSMethod.createKey, create).keyMetadata
        try await guarded.createAlias("alias/dev-x", key.keyID)
        update.aliasName = "alias/dev-x"
        update.targetKeyID = adminsOnly.keyID
        #expect(await code { _ = try await guarded.call(KMSMethod.updateAlias, update) } == "AccessDeniedException")
        update.targetKeyID = second.keyID
        _ = try await guarded.call(KMSMethod.updateAlias, update)
        await stack.stop()
    }

    @Test func awsManagedKeysAppearOnlyForRealServicesInTheCallersAccountOnceAuthorized() async throws {
        let stack = try await KMSStack.start()
        let (_, nobody) = try await stack.principal("nobody")
        let (_, partner) = try await stack.principal("partner", account: Self.accountB, policies: ["all": Self.kmsAll])
        func keyCount() async throws -> Int {
            try await stack.database.withClient { client in
                var count = 0
                for try await (n, ) in try await client.query("SELECT count(*)::int FROM kms_keys").decode(Int.self) {
                    count = n
                }
                return count
            }
        }
        let before = try await keyCount()
        // Nobody with no permissions names alias/aws/s3: refused, and nothing is created.
        do {
            _ = try await nobody.describe("alias/aws/s3")
            Issue.record("a caller without permissions described alias/aws/s3")
        } catch let error as KMSClientError {
            #expect(error.code == "AccessDeniedException")
            // It names the alias, not the id of a key that was never created.
            #expect(error.message.hasSuffix("on resource: arn:aws:kms:us-east-1:\(Self.accountA):alias/aws/s3"))
        }
        #expect(await code { _ = try await nobody.encrypt("alias/aws/ebs", [1]) } == "AccessDeniedException")
        // A made-up service is just an alias that does not exist.
        #expect(await code { _ = try await stack.client.describe("alias/aws/not-a-service") } == "NotFoundException")
        // Another account's managed key is that account's to create, not ours.
        #expect(
            await code { _ = try await partner.encrypt("arn:aws:kms:us-east-1:\(Self.accountA):alias/aws/s3", [1]) }
                == "NotFoundException")
        #expect(
            await code { _ = try await stack.client.describe("arn:aws:kms:us-east-1:999988887777:alias/aws/s3") }
                == "NotFoundException")
        #expect(try await keyCount() == before)
        // The account's own authorized caller makes it appear.
        let managed = try await stack.client.describe("alias/aws/s3")
        #expect(managed.keyManager == .aws)
        #expect(try await keyCount() == before + 1)
        // Another account's authorized caller naming alias/aws/lambda gets its own account's key.
        let partners = try await partner.describe("alias/aws/lambda")
        #expect(partners.arn.hasPrefix("arn:aws:kms:us-east-1:\(Self.accountB):key/"))
        await stack.stop()
    }

    @Test func anUnreadableStoredPolicyDeniesInsteadOfDisappearing() async throws {
        let stack = try await KMSStack.start()
        let (arn, app) = try await stack.principal(
            "app",
            policies: [
                "allow": PrincipalPolicyTests.useAnyKey,
                "deny-decrypt": PrincipalPolicyTests.policy(
                    #"{"Effect": "Deny", "Action": "kms:Decrypt", "Resource": "*"}"#),
            ])
        let key = try await stack.client.createKey()
        let blob = try await app.encrypt(key.keyID, [1])
        #expect(await code { _ = try await app.decrypt(blob) } == "AccessDeniedException")
        // The deny's row no longer parses (a hand edit, a newer grammar): it must not vanish.
        try await stack.database.withClient { client in
            try await client.query(
                """
                UPDATE kms_identity_policies SET document = '{not json' WHERE principal_arn = \(arn)
                    AND policy_name = 'deny-decrypt'
                """
            )
        }
        var decrypted: String?
        for _ in 0..<20 {
            decrypted = await code { _ = try await app.decrypt(blob) }
            #expect(decrypted == "AccessDeniedException")
            try await Task.sleep(for: .milliseconds(50))
        }
        // And everything else this principal could do is refused as well (fail closed).
        #expect(await code { _ = try await app.encrypt(key.keyID, [1]) } == "AccessDeniedException")
        await stack.stop()
    }

    @Test func sizesAreCheckedBeforeAuthorizationAndCallersAreThrottled() async throws {
        // A bucket of 12 that (at 0.01 a second) does not refill during the test: the admin
        // makes 6 calls here, `nobody` 15, so exactly its last 3 are throttled.
        let stack = try await KMSStack.start(kmsdArguments: ["--max-requests-per-principal", "0.01/12"])
        let (_, nobody) = try await stack.principal("nobody")
        let (_, other) = try await stack.principal("other")
        let key = try await stack.client.createKey()
        // A caller with no permissions gets ValidationException for a 60 KB context, before
        // authorization and before anything of it is recorded.
        let huge = ["k": String(repeating: "x", count: 60_000)]
        #expect(await code { _ = try await nobody.encrypt(key.keyID, [1], context: huge) } == "ValidationException")
        var tokens = KMSEncryptRequest()
        tokens.keyID = key.keyID
        tokens.plaintext = Data([1])
        tokens.grantTokens = Array(repeating: "kmsgt1.bm9uZQ==", count: 11)
        #expect(await code { _ = try await nobody.call(KMSMethod.encrypt, tokens) } == "ValidationException")
        let records = try await AuditTests.records(stack.client)
        #expect(!records.contains { $0.encryptionContext["k"] != nil })
        #expect(records.filter { $0.errorCode == "ValidationException" }.count == 2)

        // Past its burst a principal is throttled (retryable); another principal is not.
        var codes: [String?] = []
        for _ in 0..<15 { codes.append(await code { _ = try await nobody.describe(key.keyID) }) }
        #expect(codes.prefix(12).allSatisfy { $0 == "AccessDeniedException" })
        #expect(codes.suffix(3).allSatisfy { $0 == "ThrottlingException" })
        #expect(await code { _ = try await other.describe(key.keyID) } == "AccessDeniedException")
        await stack.stop()
    }
}
