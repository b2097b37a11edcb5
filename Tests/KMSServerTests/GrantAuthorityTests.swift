import Foundation
import KMSClient
import KMSProto
import KMSTestSupport
import Testing

/// Issue 15's grant holes: what a grant lets its grantee pass on, who may retire a grant, and
/// whose retirable grants may be listed.
@Suite struct GrantAuthorityTests {
    static func grant(
        _ key: String, to grantee: String, _ operations: [KMSGrantOperation], subset: [String: String] = [:],
        retiring: String? = nil
    ) -> KMSCreateGrantRequest {
        var request = KMSCreateGrantRequest()
        request.keyID = key
        request.granteePrincipal = grantee
        request.operations = operations
        if !subset.isEmpty { request.constraints.encryptionContextSubset = subset }
        if let retiring { request.retiringPrincipal = retiring }
        return request
    }

    @Test func aGranteePassesOnOnlyWhatItsGrantGives() async throws {
        let stack = try await KMSStack.start()
        let (granterARN, granter) = try await stack.principal("granter")
        let (partnerARN, partner) = try await stack.principal("partner", account: TenancyTests.accountB)
        let key = try await stack.client.createKey()
        _ = try await stack.client.call(KMSMethod.createGrant, Self.grant(key.keyID, to: granterARN, [.createGrant]))

        // CreateGrant alone does not let it give itself, or another account, Decrypt or Encrypt.
        #expect(
            await code {
                _ = try await granter.call(KMSMethod.createGrant, Self.grant(key.keyID, to: granterARN, [.decrypt]))
            } == "AccessDeniedException")
        #expect(
            await code {
                _ = try await granter.call(
                    KMSMethod.createGrant, Self.grant(key.keyID, to: partnerARN, [.encrypt, .decrypt]))
            } == "AccessDeniedException")
        // A subset of its own operations it may pass on.
        _ = try await granter.call(KMSMethod.createGrant, Self.grant(key.keyID, to: partnerARN, [.createGrant]))

        // Constraints pass on at least as strict: a Subset parent gives only supersets of its pairs.
        _ = try await stack.client.call(
            KMSMethod.createGrant,
            Self.grant(key.keyID, to: granterARN, [.createGrant, .decrypt], subset: ["app": "web"]))
        #expect(
            await code {
                _ = try await granter.call(KMSMethod.createGrant, Self.grant(key.keyID, to: partnerARN, [.decrypt]))
            } == "AccessDeniedException")
        #expect(
            await code {
                _ = try await granter.call(
                    KMSMethod.createGrant, Self.grant(key.keyID, to: partnerARN, [.decrypt], subset: ["app": "db"]))
            } == "AccessDeniedException")
        _ = try await granter.call(
            KMSMethod.createGrant,
            Self.grant(key.keyID, to: partnerARN, [.decrypt], subset: ["app": "web", "stage": "prod"]))

        // A grantee of another account, on its grant's authority (the key policy gives B
        // nothing), creates a grant whose issuing account is the key's, not its own.
        _ = try await partner.call(KMSMethod.createGrant, Self.grant(key.arn, to: partnerARN, [.createGrant]))
        var list = KMSListGrantsRequest()
        list.keyID = key.keyID
        let grants = try await stack.client.call(KMSMethod.listGrants, list).grants
        #expect(grants.count == 5)
        #expect(grants.allSatisfy { $0.issuingAccount == "arn:aws:iam::\(TenancyTests.accountA):root" })
        await stack.stop()
    }

    /// A grant made on a grant's authority names in its audit record the grant that lets it pass
    /// the operations on (its parent), not only some grant of CreateGrant.
    @Test func aGrantMadeOnAGrantsAuthorityRecordsItsParent() async throws {
        let stack = try await KMSStack.start()
        let (granterARN, granter) = try await stack.principal("granter")
        let (partnerARN, _) = try await stack.principal("partner")
        let key = try await stack.client.createKey()
        // The gate names the least id among the grants that allow CreateGrant: give the granter a
        // CreateGrant-only grant whose id sorts first, so that the gate's grant is not the parent.
        // Ids are random: a parent in the lowest quarter (which 40 tries might not undercut, one
        // run in about 41) is revoked and made again; from the upper three quarters, 40 tries all
        // missing has a chance of 0.75^40, about 1 in 100,000.
        var parent = ""
        for _ in 0..<50 {
            parent = try await stack.client.call(
                KMSMethod.createGrant, Self.grant(key.keyID, to: granterARN, [.createGrant, .decrypt])
            ).grantID
            if parent >= "4" { break }
            var revoke = KMSRevokeGrantRequest()
            revoke.keyID = key.keyID
            revoke.grantID = parent
            _ = try await stack.client.call(KMSMethod.revokeGrant, revoke)
        }
        try #require(parent >= "4")
        var createOnly: [String] = []
        while createOnly.allSatisfy({ $0 > parent }), createOnly.count < 40 {
            createOnly.append(
                try await stack.client.call(
                    KMSMethod.createGrant, Self.grant(key.keyID, to: granterARN, [.createGrant])
                ).grantID)
        }
        try #require(createOnly.contains { $0 < parent })
        _ = try await granter.call(KMSMethod.createGrant, Self.grant(key.keyID, to: partnerARN, [.decrypt]))
        let records = try await AuditTests.records(stack.client) { $0.keyArn = key.arn }
        let made = records.filter { $0.operation == "CreateGrant" && $0.principalArn == granterARN }
        #expect(made.map(\.grantID) == [parent])
        #expect(made.map(\.errorCode) == [""])
        await stack.stop()
    }

    @Test func retiringAGrantTakesTheGrantsWordOrThePoliciesAndADenyWins() async throws {
        let stack = try await KMSStack.start()
        let (readerARN, reader) = try await stack.principal("reader")
        let (_, denied) = try await stack.principal(
            "denied",
            policies: [
                "deny": PrincipalPolicyTests.policy(#"{"Effect": "Deny", "Action": "kms:*", "Resource": "*"}"#)
            ])
        let (retirerARN, retirer) = try await stack.principal(
            "retirer",
            policies: [
                "no-retire": PrincipalPolicyTests.policy(
                    #"{"Effect": "Deny", "Action": "kms:RetireGrant", "Resource": "*"}"#)
            ])
        let (otherARN, other) = try await stack.principal("other")
        let key = try await stack.client.createKey()
        let first = try await stack.client.call(
            KMSMethod.createGrant, Self.grant(key.keyID, to: readerARN, [.decrypt], retiring: retirerARN))
        _ = try await stack.client.call(KMSMethod.createGrant, Self.grant(key.keyID, to: otherARN, [.retireGrant]))
        func retire(_ client: KMSClient, _ token: String) async -> String? {
            var request = KMSRetireGrantRequest()
            request.grantToken = token
            return await code { _ = try await client.call(KMSMethod.retireGrant, request) }
        }
        // A principal of the issuing account whose identity policy denies kms:* may not.
        #expect(await retire(denied, first.grantToken) == "AccessDeniedException")
        // The retiring principal, under an explicit deny of RetireGrant, may not either.
        #expect(await retire(retirer, first.grantToken) == "AccessDeniedException")
        // Another grant's RetireGrant operation retires that grant, not this one.
        #expect(await retire(other, first.grantToken) == "AccessDeniedException")
        // The grantee without RetireGrant in its grant may not.
        #expect(await retire(reader, first.grantToken) == "AccessDeniedException")
        // The account's admin, allowed by policy, may.
        #expect(await retire(stack.client, first.grantToken) == nil)
        await stack.stop()
    }

    @Test func retirableGrantsAreListedOnlyForTheCallersOwnAccount() async throws {
        let stack = try await KMSStack.start()
        let (readerARN, _) = try await stack.principal("reader")
        let (_, partner) = try await stack.principal(
            "partner", account: TenancyTests.accountB, policies: ["all": TenancyTests.kmsAll])
        let key = try await stack.client.createKey()
        _ = try await stack.client.call(
            KMSMethod.createGrant, Self.grant(key.keyID, to: readerARN, [.decrypt], retiring: readerARN))
        var list = KMSListRetirableGrantsRequest()
        list.retiringPrincipal = readerARN
        #expect(
            await code { _ = try await partner.call(KMSMethod.listRetirableGrants, list) } == "AccessDeniedException")
        #expect(try await stack.client.call(KMSMethod.listRetirableGrants, list).grants.count == 1)
        await stack.stop()
    }
}
