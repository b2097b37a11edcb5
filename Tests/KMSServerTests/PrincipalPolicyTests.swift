import Foundation
import KMSClient
import KMSProto
import KMSTestSupport
import Testing

/// Authorization as different principals over authenticated connections: key policies,
/// identity policies, their interplay across accounts, and explicit denies.
@Suite struct PrincipalPolicyTests {
    static func policy(_ statements: String) -> String {
        #"{"Version": "2012-10-17", "Statement": [\#(statements)]}"#
    }

    static let useAnyKey = policy(
        #"{"Effect": "Allow", "Action": ["kms:Encrypt", "kms:Decrypt", "kms:DescribeKey"], "Resource": "*"}"#)

    @Test func theIdentityPolicyAdminTrapAndAKeyPolicyThatNamesThePrincipal() async throws {
        let stack = try await KMSStack.start()
        let (_, ops) = try await stack.principal(
            "ops", policies: ["admin": Self.policy(#"{"Effect": "Allow", "Action": "kms:*", "Resource": "*"}"#)])
        let (appARN, app) = try await stack.principal("app", type: "role")

        // A key policy that names only the app role and the bootstrap admin, not the account
        // root: identity policies no longer count, so "ops" with kms:* is denied (the AWS docs' trap).
        var create = KMSCreateKeyRequest()
        create.policy = Self.policy(
            """
            {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:user/admin"}, "Action": "kms:*", \
            "Resource": "*"},
            {"Effect": "Allow", "Principal": {"AWS": "\(appARN)"}, "Action": ["kms:Encrypt", "kms:Decrypt"], \
            "Resource": "*"}
            """)
        let key = try await stack.client.call(KMSMethod.createKey, create).keyMetadata
        #expect(await code { _ = try await ops.describe(key.keyID) } == "AccessDeniedException")
        do {
            _ = try await ops.encrypt(key.keyID, [1])
            Issue.record("ops encrypted under a key policy that does not delegate to the account")
        } catch let error as KMSClientError {
            #expect(
                error.message
                    == "User: arn:aws:iam::111122223333:user/ops is not authorized to perform: kms:Encrypt on "
                    + "resource: \(key.arn) because no resource-based policy allows the kms:Encrypt action"
            )
        }
        // The role the key policy names needs no identity policy at all.
        let blob = try await app.encrypt(key.keyID, [7])
        #expect(try await app.decrypt(blob).plaintext == Data([7]))
        #expect(await code { _ = try await app.describe(key.keyID) } == "AccessDeniedException")
        // The default policy delegates to the account: ops's kms:* now works, app's nothing does.
        let open = try await ops.createKey("delegated")
        _ = try await ops.encrypt(open.keyID, [1])
        #expect(await code { _ = try await app.encrypt(open.keyID, [1]) } == "AccessDeniedException")
        // Operations on no key need an identity policy.
        #expect(await code { _ = try await app.createKey() } == "AccessDeniedException")
        await stack.stop()
    }

    @Test func anExplicitDenyInAnIdentityPolicyOverridesTheKeyPolicy() async throws {
        let stack = try await KMSStack.start()
        let (_, app) = try await stack.principal(
            "app",
            policies: [
                "use": Self.useAnyKey,
                "no-decrypt-outside-prod": Self.policy(
                    #"""
                    {"Effect": "Deny", "Action": "kms:Decrypt", "Resource": "*",
                     "Condition": {"StringNotEquals": {"kms:EncryptionContext:stage": "prod"}}}
                    """#),
            ])
        let key = try await stack.client.createKey()
        let prod = try await app.encrypt(key.keyID, [1], context: ["stage": "prod"])
        let dev = try await app.encrypt(key.keyID, [2], context: ["stage": "dev"])
        #expect(try await app.decrypt(prod, context: ["stage": "prod"]).plaintext == Data([1]))
        do {
            _ = try await app.decrypt(dev, context: ["stage": "dev"])
            Issue.record("the deny did not apply")
        } catch let error as KMSClientError {
            #expect(error.code == "AccessDeniedException")
            #expect(error.message.hasSuffix("with an explicit deny in an identity-based policy"))
        }
        // The admin, without the deny, decrypts it.
        #expect(try await stack.client.decrypt(dev, context: ["stage": "dev"]).plaintext == Data([2]))
        await stack.stop()
    }

    @Test func crossAccountUseNeedsTheKeyPolicyAndTheCallersAccount() async throws {
        let stack = try await KMSStack.start()
        let other = "444455556666"
        let (_, allowed) = try await stack.principal("partner", account: other, policies: ["use": Self.useAnyKey])
        let (_, unallowed) = try await stack.principal("stranger", account: other)

        var create = KMSCreateKeyRequest()
        create.policy = Self.policy(
            """
            {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "kms:*", "Resource": \
            "*"},
            {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::\(other):root"}, "Action": ["kms:Encrypt", \
            "kms:Decrypt", "kms:DescribeKey"], "Resource": "*"}
            """)
        let shared = try await stack.client.call(KMSMethod.createKey, create).keyMetadata
        let privateKey = try await stack.client.createKey("not shared")

        // Across accounts a key is named by its ARN; the key policy and the caller's identity
        // policy must both allow.
        let blob = try await allowed.encrypt(shared.arn, [3])
        #expect(try await allowed.decrypt(blob).plaintext == Data([3]))
        #expect(try await stack.client.decrypt(blob).plaintext == Data([3]))
        #expect(await code { _ = try await unallowed.encrypt(shared.arn, [3]) } == "AccessDeniedException")
        #expect(await code { _ = try await allowed.encrypt(privateKey.arn, [3]) } == "AccessDeniedException")
        // A bare key id resolves in the key's account only by the key id itself; a bare alias
        // resolves in the caller's own account, where it does not exist.
        try await stack.client.createAlias("alias/shared", shared.keyID)
        #expect(await code { _ = try await allowed.encrypt("alias/shared", [3]) } == "NotFoundException")
        await stack.stop()
    }

    @Test func conditionKeysOfTheRequestReachThePolicies() async throws {
        let stack = try await KMSStack.start()
        let (_, app) = try await stack.principal(
            "app",
            policies: [
                "by-alias-only": Self.policy(
                    #"""
                    {"Effect": "Allow", "Action": "kms:Encrypt", "Resource": "*",
                     "Condition": {"StringEquals": {"kms:RequestAlias": "alias/app"}}}
                    """#),
                "grants-for-decrypt-only": Self.policy(
                    #"""
                    {"Effect": "Allow", "Action": "kms:CreateGrant", "Resource": "*",
                     "Condition": {"ForAllValues:StringEquals": {"kms:GrantOperations": ["Decrypt"]}, "Bool": \#
                    {"aws:SecureTransport": "false"},
                                   "IpAddress": {"aws:SourceIp": "127.0.0.0/8"}}}
                    """#),
            ])
        let key = try await stack.client.createKey()
        try await stack.client.createAlias("alias/app", key.keyID)
        _ = try await app.encrypt("alias/app", [1])
        #expect(await code { _ = try await app.encrypt(key.keyID, [1]) } == "AccessDeniedException")

        var grant = KMSCreateGrantRequest()
        grant.keyID = key.keyID
        grant.granteePrincipal = "arn:aws:iam::111122223333:role/reader"
        grant.operations = [.decrypt]
        _ = try await app.call(KMSMethod.createGrant, grant)
        grant.operations = [.decrypt, .encrypt]
        #expect(await code { _ = try await app.call(KMSMethod.createGrant, grant) } == "AccessDeniedException")
        await stack.stop()
    }

    @Test func aGrantLetsARoleDecryptUnderOneContextUntilItRetiresIt() async throws {
        let stack = try await KMSStack.start()
        let (readerARN, reader) = try await stack.principal("reader", type: "role")
        let key = try await stack.client.createKey()
        let web = try await stack.client.encrypt(key.keyID, [1], context: ["app": "web"])
        let db = try await stack.client.encrypt(key.keyID, [2], context: ["app": "db"])
        #expect(await code { _ = try await reader.decrypt(web, context: ["app": "web"]) } == "AccessDeniedException")

        var grant = KMSCreateGrantRequest()
        grant.keyID = key.keyID
        grant.granteePrincipal = readerARN
        grant.retiringPrincipal = readerARN
        grant.operations = [.decrypt]
        grant.constraints.encryptionContextEquals = ["app": "web"]
        let created = try await stack.client.call(KMSMethod.createGrant, grant)
        var decrypt = KMSDecryptRequest()
        decrypt.ciphertextBlob = web
        decrypt.encryptionContext = ["app": "web"]
        decrypt.grantTokens = [created.grantToken]
        #expect(try await reader.call(KMSMethod.decrypt, decrypt).plaintext == Data([1]))
        #expect(await code { _ = try await reader.decrypt(db, context: ["app": "db"]) } == "AccessDeniedException")
        // The grant gives Decrypt and nothing else.
        #expect(
            await code { _ = try await reader.encrypt(key.keyID, [3], context: ["app": "web"]) }
                == "AccessDeniedException")

        // The retiring principal retires it; then it no longer works.
        var retire = KMSRetireGrantRequest()
        retire.grantToken = created.grantToken
        _ = try await reader.call(KMSMethod.retireGrant, retire)
        var denied: String?
        for _ in 0..<50 {
            denied = await code { _ = try await reader.decrypt(web, context: ["app": "web"]) }
            if denied != nil { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(denied == "AccessDeniedException")
        await stack.stop()
    }
}
