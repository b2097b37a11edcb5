import Foundation
import KMSClient
import KMSProto
import KMSTestSupport
import Testing

/// Key policies decide, end to end, as the bootstrap admin: a user whose identity policy allows
/// kms:*, which counts only where the key policy delegates to the account.
@Suite struct KeyPolicyTests {
    static let admin = "arn:aws:iam::111122223333:user/admin"

    @Test func getPutListAndTheLockoutSafetyCheck() async throws {
        let stack = try await KMSStack.start()
        let kms = stack.client
        let key = try await kms.createKey()

        var get = KMSGetKeyPolicyRequest()
        get.keyID = key.keyID
        let current = try await kms.call(KMSMethod.getKeyPolicy, get)
        #expect(current.policyName == "default")
        #expect(current.policy.contains("arn:aws:iam::111122223333:root"))
        get.policyName = "other"
        #expect(await code { _ = try await kms.call(KMSMethod.getKeyPolicy, get) } == "NotFoundException")

        var list = KMSListKeyPoliciesRequest()
        list.keyID = key.keyID
        #expect(try await kms.call(KMSMethod.listKeyPolicies, list).policyNames == ["default"])

        // A policy that leaves nobody able to change it is refused...
        let lockout = """
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": \
            "arn:aws:iam::111122223333:role/gone"}, "Action": "kms:*", "Resource": "*"}]}
            """
        var put = KMSPutKeyPolicyRequest()
        put.keyID = key.keyID
        put.policy = lockout
        #expect(
            await code { _ = try await kms.call(KMSMethod.putKeyPolicy, put) } == "MalformedPolicyDocumentException")
        var create = KMSCreateKeyRequest()
        create.policy = lockout
        #expect(
            await code { _ = try await kms.call(KMSMethod.createKey, create) } == "MalformedPolicyDocumentException")
        #expect(try await kms.encrypt(key.keyID, [1]).count > 0)

        // ... unless the caller says it knows what it is doing. Then the account is locked out.
        put.bypassPolicyLockoutSafetyCheck = true
        _ = try await kms.call(KMSMethod.putKeyPolicy, put)
        #expect(await code { _ = try await kms.encrypt(key.keyID, [1]) } == "AccessDeniedException")
        #expect(await code { _ = try await kms.describe(key.keyID) } == "AccessDeniedException")
        put.bypassPolicyLockoutSafetyCheck = false
        put.policy = "{}"
        #expect(
            await code { _ = try await kms.call(KMSMethod.putKeyPolicy, put) } == "MalformedPolicyDocumentException")
        await stack.stop()
    }

    @Test func aDenyOverridesTheRootsAllowAndConditionsSeeTheContext() async throws {
        let stack = try await KMSStack.start()
        let kms = stack.client
        var create = KMSCreateKeyRequest()
        create.policy = """
            {"Version": "2012-10-17", "Statement": [
              {"Sid": "Root", "Effect": "Allow", "Principal": {"AWS": "111122223333"}, "Action": "kms:*", "Resource": \
            "*"},
              {"Sid": "OnlyBillingDecrypts", "Effect": "Deny", "Principal": "*", "Action": "kms:Decrypt", "Resource": \
            "*",
               "Condition": {"StringNotEquals": {"kms:EncryptionContext:app": "billing"}}}
            ]}
            """
        let key = try await kms.call(KMSMethod.createKey, create).keyMetadata
        let billing = try await kms.encrypt(key.keyID, [1], context: ["app": "billing"])
        let other = try await kms.encrypt(key.keyID, [2], context: ["app": "web"])
        #expect(try await kms.decrypt(billing, context: ["app": "billing"]).plaintext == Data([1]))
        do {
            _ = try await kms.decrypt(other, context: ["app": "web"])
            Issue.record("decrypted despite the deny")
        } catch let error as KMSClientError {
            #expect(error.code == "AccessDeniedException")
            #expect(
                error.message
                    == "User: \(Self.admin) is not authorized to perform: kms:Decrypt on resource: \(key.arn) with "
                    + "an explicit deny in a resource-based policy"
            )
        }
        await stack.stop()
    }
}
