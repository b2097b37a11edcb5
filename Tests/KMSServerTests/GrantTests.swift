import Foundation
import KMSClient
import KMSProto
import KMSTestSupport
import Testing

/// Grants end to end, as the bootstrap admin: the key policy here withholds Decrypt from the
/// account (so the admin's kms:* identity policy cannot give it) and grants give it back, narrowly.
@Suite struct GrantTests {
    static let root = "arn:aws:iam::111122223333:user/admin"
    static let noDecrypt = """
        {"Version": "2012-10-17", "Statement": [
          {"Effect": "Allow", "Principal": {"AWS": "111122223333"}, "NotAction": "kms:Decrypt", "Resource": "*"}
        ]}
        """

    @Test func aGrantAllowsDecryptUnderOneContextUntilRetired() async throws {
        let stack = try await KMSStack.start()
        let other = try await stack.secondKMSD()
        let kmsB = try other.client(credentials: stack.adminCredentials)
        let kms = stack.client
        var create = KMSCreateKeyRequest()
        create.policy = Self.noDecrypt
        let key = try await kms.call(KMSMethod.createKey, create).keyMetadata
        let web = try await kms.encrypt(key.keyID, [1], context: ["app": "web"])
        let db = try await kms.encrypt(key.keyID, [2], context: ["app": "db"])
        #expect(await code { _ = try await kmsB.decrypt(web, context: ["app": "web"]) } == "AccessDeniedException")

        var grant = KMSCreateGrantRequest()
        grant.keyID = key.keyID
        grant.granteePrincipal = Self.root
        grant.retiringPrincipal = Self.root
        grant.operations = [.decrypt]
        grant.constraints.encryptionContextSubset = ["app": "web"]
        grant.name = "web-decrypt"
        let created = try await kms.call(KMSMethod.createGrant, grant)
        #expect(created.grantID.count == 64)
        #expect(try await kms.call(KMSMethod.createGrant, grant).grantID == created.grantID)  // same Name, same grant

        // The token makes the grant count at once, also on the other kmsd.
        var decrypt = KMSDecryptRequest()
        decrypt.ciphertextBlob = web
        decrypt.encryptionContext = ["app": "web"]
        decrypt.grantTokens = [created.grantToken]
        #expect(try await kmsB.call(KMSMethod.decrypt, decrypt).plaintext == Data([1]))
        #expect(try await kms.decrypt(web, context: ["app": "web"]).plaintext == Data([1]))
        #expect(await code { _ = try await kms.decrypt(db, context: ["app": "db"]) } == "AccessDeniedException")

        var list = KMSListGrantsRequest()
        list.keyID = key.keyID
        let listed = try await kms.call(KMSMethod.listGrants, list).grants
        #expect(listed.count == 1)
        #expect(listed.first?.operations == [.decrypt])
        #expect(listed.first?.constraints.encryptionContextSubset == ["app": "web"])
        var retirable = KMSListRetirableGrantsRequest()
        retirable.retiringPrincipal = Self.root
        #expect(try await kms.call(KMSMethod.listRetirableGrants, retirable).grants.map(\.grantID) == [created.grantID])

        var retire = KMSRetireGrantRequest()
        retire.grantToken = created.grantToken
        _ = try await kms.call(KMSMethod.retireGrant, retire)
        #expect(await code { _ = try await kms.decrypt(web, context: ["app": "web"]) } == "AccessDeniedException")
        #expect(await code { _ = try await kms.call(KMSMethod.retireGrant, retire) } == "NotFoundException")
        retire.grantToken = "not-a-token"
        #expect(await code { _ = try await kms.call(KMSMethod.retireGrant, retire) } == "InvalidGrantTokenException")
        await kmsB.close()
        await other.stop()
        await stack.stop()
    }

    @Test func revokeAndValidation() async throws {
        let stack = try await KMSStack.start()
        let kms = stack.client
        let key = try await kms.createKey()
        var grant = KMSCreateGrantRequest()
        grant.keyID = key.keyID
        grant.granteePrincipal = "arn:aws:iam::111122223333:role/app"
        grant.operations = [.encrypt, .generateDataKey]
        let created = try await kms.call(KMSMethod.createGrant, grant)
        var revoke = KMSRevokeGrantRequest()
        revoke.keyID = key.keyID
        revoke.grantID = created.grantID
        _ = try await kms.call(KMSMethod.revokeGrant, revoke)
        #expect(await code { _ = try await kms.call(KMSMethod.revokeGrant, revoke) } == "NotFoundException")

        var bad = grant
        bad.granteePrincipal = "bob"
        #expect(await code { _ = try await kms.call(KMSMethod.createGrant, bad) } == "ValidationException")
        bad = grant
        bad.operations = []
        #expect(await code { _ = try await kms.call(KMSMethod.createGrant, bad) } == "ValidationException")
        bad = grant
        bad.operations = [.describeKey]
        bad.constraints.encryptionContextEquals = ["a": "b"]
        #expect(await code { _ = try await kms.call(KMSMethod.createGrant, bad) } == "ValidationException")
        bad = grant
        bad.keyID = "alias/nope"
        #expect(await code { _ = try await kms.call(KMSMethod.createGrant, bad) } == "NotFoundException")
        try await kms.setEnabled(key.keyID, false)
        #expect(await code { _ = try await kms.call(KMSMethod.createGrant, grant) } == "DisabledException")
        await stack.stop()
    }
}
