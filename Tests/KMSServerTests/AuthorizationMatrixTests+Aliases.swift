import Foundation
import KMSProto
import Testing

/// Requests the focused tests send, both protocols alike.
enum MatrixRequests {
    static func createAlias(_ name: String, _ keyID: String) -> MatrixRequest {
        var request = KMSCreateAliasRequest()
        request.aliasName = name
        request.targetKeyID = keyID
        return MatrixRequest(KMSMethod.createAlias, request)
    }

    static func updateAlias(_ name: String, _ keyID: String) -> MatrixRequest {
        var request = KMSUpdateAliasRequest()
        request.aliasName = name
        request.targetKeyID = keyID
        return MatrixRequest(KMSMethod.updateAlias, request)
    }

    static func deleteAlias(_ name: String) -> MatrixRequest {
        var request = KMSDeleteAliasRequest()
        request.aliasName = name
        return MatrixRequest(KMSMethod.deleteAlias, request)
    }

    static func describeKey(_ keyID: String) -> MatrixRequest {
        var request = KMSDescribeKeyRequest()
        request.keyID = keyID
        return MatrixRequest(KMSMethod.describeKey, request)
    }

    static func encrypt(_ keyID: String, grantTokens: [String] = []) -> MatrixRequest {
        var request = KMSEncryptRequest()
        request.keyID = keyID
        request.plaintext = Matrix.message
        request.grantTokens = grantTokens
        return MatrixRequest(KMSMethod.encrypt, request)
    }

    static func createKey(policy: String) -> MatrixRequest {
        var request = KMSCreateKeyRequest()
        request.policy = policy
        return MatrixRequest(KMSMethod.createKey, request)
    }

    static func policy(_ statements: String...) -> String {
        #"{"Version":"2012-10-17","Statement":[\#(statements.joined(separator: ","))]}"#
    }
}

extension AuthorizationMatrixTests {
    /// Issue 15, items 3 and 4. CreateAlias, UpdateAlias and DeleteAlias need kms:<op> on the
    /// alias ARN in an identity policy and on the key in the key policy, on both keys for
    /// UpdateAlias ("Controlling access to aliases", AWS KMS developer guide); an explicit deny
    /// on the alias wins; an alias and its key are always in one account and region.
    @Test(arguments: MatrixProtocol.allCases)
    func aliasPermissionsAreCheckedOnTheAliasAndOnBothKeys(_ transport: MatrixProtocol) async throws {
        let world = try Self.world
        let tag = transport == .binary ? "b" : "j"
        let aliasActions = #"["kms:CreateAlias","kms:UpdateAlias","kms:DeleteAlias"]"#
        let team = try await world.party(
            "alias-team-\(tag)",
            policies: [
                "aliases": MatrixRequests.policy(
                    #"{"Effect":"Allow","Action":\#(aliasActions),"#
                        + #""Resource":"arn:aws:kms:us-east-1:\#(Matrix.accountA):alias/team-*"}"#,
                    #"{"Effect":"Allow","Action":\#(aliasActions),"#
                        + #""Resource":"arn:aws:kms:us-east-1:\#(Matrix.accountA):key/*"}"#
                )
            ])
        let first = try await world.createKey(.symmetric)
        let second = try await world.createKey(.symmetric)
        func by(_ party: MatrixParty, _ request: MatrixRequest) async -> MatrixOutcome {
            await party.call(request, via: transport)
        }

        // The identity policy covers alias/team-*, and the key policy delegates to it.
        expectCode(
            await by(team, MatrixRequests.createAlias("alias/team-\(tag)-1", first)), Matrix.ok,
            "CreateAlias inside the pattern")
        expectCode(
            await by(team, MatrixRequests.updateAlias("alias/team-\(tag)-1", second)), Matrix.ok,
            "UpdateAlias inside the pattern")
        // An alias outside it is refused though the key allows the action.
        expectCode(
            await by(team, MatrixRequests.createAlias("alias/other-\(tag)-1", first)), Matrix.accessDenied,
            "CreateAlias outside the pattern")
        try await world.alias("alias/other-\(tag)-2", to: first)
        expectCode(
            await by(team, MatrixRequests.updateAlias("alias/other-\(tag)-2", second)), Matrix.accessDenied,
            "UpdateAlias outside the pattern")
        expectCode(
            await by(team, MatrixRequests.deleteAlias("alias/other-\(tag)-2")), Matrix.accessDenied,
            "DeleteAlias outside the pattern")
        expectCode(
            await by(world.party(.admin), MatrixRequests.describeKey("alias/other-\(tag)-2")), Matrix.ok,
            "the alias outside the pattern is still there")

        // UpdateAlias needs both keys: neither away from a key the caller may not use, nor onto one.
        let closed = try await world.createKey(
            .symmetric,
            policy: MatrixRequests.policy(
                #"{"Effect":"Allow","Principal":{"AWS":"\#(world.party(.admin).arn)"},"Action":"kms:*","Resource":"*"}"#
            ))
        try await world.alias("alias/team-\(tag)-closed", to: closed)
        expectCode(
            await by(team, MatrixRequests.updateAlias("alias/team-\(tag)-closed", first)), Matrix.accessDenied,
            "UpdateAlias away from a closed key")
        expectCode(
            await by(team, MatrixRequests.updateAlias("alias/team-\(tag)-1", closed)), Matrix.accessDenied,
            "UpdateAlias onto a closed key")
        expectCode(
            await by(team, MatrixRequests.deleteAlias("alias/team-\(tag)-1")), Matrix.ok,
            "DeleteAlias inside the pattern")

        // An explicit deny on the alias wins over kms:* on everything.
        let guarded = try await world.party(
            "alias-guarded-\(tag)",
            policies: [
                "everything": MatrixWorld.allowEverything,
                "protect": MatrixRequests.policy(
                    #"{"Effect":"Deny","Action":"kms:DeleteAlias","#
                        + #""Resource":"arn:aws:kms:us-east-1:\#(Matrix.accountA):alias/protected-*"}"#
                ),
            ])
        try await world.alias("alias/protected-\(tag)", to: first)
        try await world.alias("alias/free-\(tag)", to: first)
        expectCode(
            await by(guarded, MatrixRequests.deleteAlias("alias/protected-\(tag)")), Matrix.accessDenied,
            "DeleteAlias under a deny")
        expectCode(
            await by(guarded, MatrixRequests.deleteAlias("alias/free-\(tag)")), Matrix.ok, "DeleteAlias beside the deny"
        )
        expectCode(
            await by(world.party(.admin), MatrixRequests.describeKey("alias/protected-\(tag)")), Matrix.ok,
            "the protected alias is still there")
    }

    /// Issue 15, item 3. CreateAlias and UpdateAlias are "Cross-account use: No" and "the alias
    /// and the KMS key must be in the same AWS account and Region" (API reference). Which code
    /// AWS answers for another account's key ARN is not documented: AccessDeniedException (found,
    /// and refused across accounts) or NotFoundException (looked for in the caller's account
    /// only) are both accepted, as in the matrix. Another region's ARN is NotFoundException
    /// (nothing of the caller's region has it). Either way the alias keeps its key.
    @Test(arguments: MatrixProtocol.allCases)
    func anAliasAndItsKeyStayInOneAccountAndRegion(_ transport: MatrixProtocol) async throws {
        let world = try Self.world
        let tag = transport == .binary ? "b" : "j"
        let admin = world.party(.admin)
        let mine = try await world.createKey(.symmetric)
        try await world.alias("alias/mine-\(tag)", to: mine)

        // A key of account B whose policy lets account A use it: only the account rule can refuse.
        let owner = try await world.party(
            "alias-owner-\(tag)", account: Matrix.accountB, policies: ["all": MatrixWorld.allowEverything])
        let shared = await owner.call(
            MatrixRequests.createKey(
                policy: MatrixRequests.policy(
                    #"{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::\#(Matrix.accountB):root"},"#
                        + #""Action":"kms:*","Resource":"*"}"#,
                    #"{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::\#(Matrix.accountA):root"},"#
                        + #""Action":"kms:*","Resource":"*"}"#
                )), via: transport)
        let sharedARN = try shared.decode(KMSMethod.createKey).keyMetadata.arn
        func by(_ request: MatrixRequest) async -> MatrixOutcome { await admin.call(request, via: transport) }
        let refused = [Matrix.notFound, Matrix.accessDenied]
        expectCode(
            await by(MatrixRequests.updateAlias("alias/mine-\(tag)", sharedARN)), oneOf: refused,
            "UpdateAlias onto account B's key")
        expectCode(
            await by(MatrixRequests.createAlias("alias/theirs-\(tag)", sharedARN)), oneOf: refused,
            "CreateAlias for account B's key")

        // A key of account A in eu-west-1, made by a caller signed for that region.
        if let refusal = world.otherRegionRefusal {
            Issue.record(
                "No key in eu-west-1 could be made (\(refusal)): the cross-region half did not run.", severity: .warning
            )
        } else {
            let elsewhere = await world.adminInOtherRegion.call(
                MatrixRequests.createKey(policy: MatrixWorld.keyPolicy), via: .awsJSON)
            let elsewhereARN = try elsewhere.decode(KMSMethod.createKey).keyMetadata.arn
            #expect(elsewhereARN.contains(":\(Matrix.otherRegion):"))
            expectCode(
                await by(MatrixRequests.updateAlias("alias/mine-\(tag)", elsewhereARN)), Matrix.notFound,
                "UpdateAlias onto a key in eu-west-1")
            expectCode(
                await by(MatrixRequests.createAlias("alias/away-\(tag)", elsewhereARN)), Matrix.notFound,
                "CreateAlias for a key in eu-west-1")
        }
        let now = await by(MatrixRequests.describeKey("alias/mine-\(tag)"))
        #expect(try now.decode(KMSMethod.describeKey).keyMetadata.keyID == mine)
        expectCode(
            await by(MatrixRequests.describeKey("alias/theirs-\(tag)")), Matrix.notFound,
            "no alias was made for account B's key")
    }
}
