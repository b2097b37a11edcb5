import Foundation
import KMSProto
import Testing

extension MatrixRequests {
    static func createGrant(
        _ keyID: String, to grantee: String, _ operations: [KMSGrantOperation], equals: [String: String]? = nil
    ) -> MatrixRequest {
        var request = KMSCreateGrantRequest()
        request.keyID = keyID
        request.granteePrincipal = grantee
        request.operations = operations
        if let equals { request.constraints.encryptionContextEquals = equals }
        return MatrixRequest(KMSMethod.createGrant, request)
    }

    static func retireGrant(_ keyID: String, _ grantID: String) -> MatrixRequest {
        var request = KMSRetireGrantRequest()
        request.keyID = keyID
        request.grantID = grantID
        return MatrixRequest(KMSMethod.retireGrant, request)
    }

    static func listGrants(_ keyID: String) -> MatrixRequest {
        var request = KMSListGrantsRequest()
        request.keyID = keyID
        return MatrixRequest(KMSMethod.listGrants, request)
    }

    static func listRetirableGrants(_ principal: String) -> MatrixRequest {
        var request = KMSListRetirableGrantsRequest()
        request.retiringPrincipal = principal
        return MatrixRequest(KMSMethod.listRetirableGrants, request)
    }

    static func decrypt(_ blob: Data, context: [String: String] = [:]) -> MatrixRequest {
        var request = KMSDecryptRequest()
        request.ciphertextBlob = blob
        request.encryptionContext = context
        return MatrixRequest(KMSMethod.decrypt, request)
    }
}

extension AuthorizationMatrixTests {
    /// The grants of `keyID`, as the admin sees them.
    static func grants(_ world: MatrixWorld, of keyID: String) async throws -> [KMSGrantListEntry] {
        try await world.admin.call(
            KMSMethod.listGrants,
            {
                var request = KMSListGrantsRequest()
                request.keyID = keyID
                return request
            }()
        ).grants
    }

    /// Issue 15, item 1. A grant created on the authority of a grant carries a subset of the
    /// parent's operations and constraints at least as strict; the new grant is issued by the
    /// key's account, whoever asked.
    @Test(arguments: MatrixProtocol.allCases)
    func aGrantCannotGiveMoreThanItHas(_ transport: MatrixProtocol) async throws {
        let world = try Self.world
        let tag = transport == .binary ? "b" : "j"
        let key = try await world.createKey(.symmetric)
        let keyARN = Matrix.keyARN(key)
        func by(_ party: MatrixParty, _ request: MatrixRequest) async -> MatrixOutcome {
            await party.call(request, via: transport)
        }

        let creator = try await world.party("g-creator-\(tag)")
        let outsider = try await world.party(
            "g-outsider-\(tag)", account: Matrix.accountB, policies: ["all": MatrixWorld.allowEverything])
        try await world.grant(key, to: creator.arn, [.createGrant])
        expectCode(
            await by(creator, MatrixRequests.createGrant(key, to: creator.arn, [.decrypt])), Matrix.accessDenied,
            "Decrypt for itself")
        expectCode(
            await by(creator, MatrixRequests.createGrant(key, to: outsider.arn, [.encrypt])), Matrix.accessDenied,
            "Encrypt for account B")
        expectCode(
            await by(creator, MatrixRequests.createGrant(key, to: creator.arn, [.createGrant, .decrypt])),
            Matrix.accessDenied, "CreateGrant and Decrypt for itself")
        // What it has, it may pass on.
        expectCode(
            await by(creator, MatrixRequests.createGrant(key, to: MatrixWorld.grantTargetARN, [.createGrant])),
            Matrix.ok, "CreateGrant passed on")
        // The refusals wrote nothing: the admin's grant and the one allowed, no more.
        #expect(try await Self.grants(world, of: key).count == 2)
        var encrypt = KMSEncryptRequest()
        encrypt.keyID = key
        encrypt.plaintext = Matrix.message
        let blob = try await world.admin.call(KMSMethod.encrypt, encrypt).ciphertextBlob
        expectCode(
            await by(creator, MatrixRequests.decrypt(blob)), Matrix.accessDenied, "Decrypt by the CreateGrant grantee")

        // Constraints at least as strict as the parent's.
        let scoped = try await world.party("g-scoped-\(tag)")
        var parent = KMSCreateGrantRequest()
        parent.keyID = key
        parent.granteePrincipal = scoped.arn
        parent.operations = [.createGrant, .decrypt]
        parent.constraints.encryptionContextEquals = ["app": "web"]
        _ = try await world.admin.call(KMSMethod.createGrant, parent)
        let target = MatrixWorld.grantTargetARN
        expectCode(
            await by(scoped, MatrixRequests.createGrant(key, to: target, [.decrypt])), Matrix.accessDenied,
            "a child grant without the constraint")
        expectCode(
            await by(scoped, MatrixRequests.createGrant(key, to: target, [.decrypt], equals: ["app": "db"])),
            Matrix.accessDenied, "a child grant with another constraint")
        expectCode(
            await by(scoped, MatrixRequests.createGrant(key, to: target, [.decrypt], equals: ["app": "web"])),
            Matrix.ok, "a child grant with the same constraint")

        // A principal of account B whose grant allows CreateGrant (and nothing in the key policy
        // names it) makes a grant on A's key: issued by A, the key's account.
        try await world.grant(key, to: outsider.arn, [.createGrant, .describeKey])
        let made = await by(outsider, MatrixRequests.createGrant(keyARN, to: target, [.describeKey]))
        expectCode(made, Matrix.ok, "CreateGrant by account B on the authority of its grant")
        if made.succeeded {
            let grantID = try made.decode(KMSMethod.createGrant).grantID
            let listed = try await Self.grants(world, of: key).first { $0.grantID == grantID }
            #expect(listed?.issuingAccount == "arn:aws:iam::\(Matrix.accountA):root")
        }
    }

    /// Issue 15, item 5. "A grant can be retired by an optional retiring principal specified in
    /// the grant. The grantee principal can also retire the grant, but only if [...] the grant
    /// includes the RetireGrant operation. As a backup, the AWS account in which the grant was
    /// created can retire the grant", delegating kms:RetireGrant through IAM policies; "To deny
    /// permission to retire a grant, you can use a Deny action with the kms:RetireGrant
    /// permission" (developer guide, "Retiring and revoking grants").
    @Test(arguments: MatrixProtocol.allCases)
    func retiringAGrantIsForThoseTheGrantOrAnIdentityPolicyNames(_ transport: MatrixProtocol) async throws {
        let world = try Self.world
        let tag = transport == .binary ? "b" : "j"
        let key = try await world.createKey(.symmetric)
        let target = MatrixWorld.grantTargetARN
        let retirer = try await world.party("r-retirer-\(tag)")
        let grantee = try await world.party("r-grantee-\(tag)")
        let nobody = try await world.party("r-nobody-\(tag)")
        let denied = try await world.party("r-denied-\(tag)", policies: ["deny": MatrixWorld.denyEverything])
        let delegated = try await world.party(
            "r-delegated-\(tag)",
            policies: [
                "retire": MatrixRequests.policy(
                    #"{"Effect":"Allow","Action":"kms:RetireGrant","Resource":"*"}"#
                )
            ])
        let foreignRetirer = try await world.party("r-foreign-\(tag)", account: Matrix.accountB)
        func retire(_ party: MatrixParty, _ grantID: String) async -> MatrixOutcome {
            let keyID = party.arn.contains(":\(Matrix.accountB):") ? Matrix.keyARN(key) : key
            return await party.call(MatrixRequests.retireGrant(keyID, grantID), via: transport)
        }

        let byRetirer = try await world.grant(key, to: target, [.decrypt], retiring: retirer.arn)
        let withRetireGrant = try await world.grant(key, to: grantee.arn, [.decrypt, .retireGrant])
        let withoutRetireGrant = try await world.grant(key, to: grantee.arn, [.decrypt])
        let unrelated = try await world.grant(key, to: target, [.decrypt])
        let deniedRetirer = try await world.grant(key, to: target, [.decrypt], retiring: denied.arn)
        let forDelegate = try await world.grant(key, to: target, [.encrypt])
        let acrossAccounts = try await world.grant(key, to: target, [.decrypt], retiring: foreignRetirer.arn)

        expectCode(await retire(retirer, byRetirer), Matrix.ok, "the retiring principal")
        expectCode(await retire(grantee, withRetireGrant), Matrix.ok, "the grantee of a grant with RetireGrant")
        expectCode(
            await retire(delegated, forDelegate), Matrix.ok,
            "a principal allowed kms:RetireGrant by its identity policy")
        expectCode(await retire(foreignRetirer, acrossAccounts), Matrix.ok, "a retiring principal of account B")
        expectCode(
            await retire(grantee, withoutRetireGrant), Matrix.accessDenied, "the grantee of a grant without RetireGrant"
        )
        expectCode(
            await retire(nobody, unrelated), Matrix.accessDenied,
            "a principal of the issuing account without permission")
        expectCode(await retire(denied, deniedRetirer), Matrix.accessDenied, "the retiring principal under a deny")
        expectCode(await retire(denied, unrelated), Matrix.accessDenied, "a principal under a deny")
        let left = Set(try await Self.grants(world, of: key).map(\.grantID))
        #expect(left == [withoutRetireGrant, unrelated, deniedRetirer])
    }

    /// Issue 15, item 6. ListRetirableGrants: "You must specify a principal in your AWS account.
    /// This operation returns a list of grants where the retiring principal specified [...] is
    /// the same retiring principal on the grant. This can include grants on KMS keys owned by
    /// other AWS accounts" (API reference, "Cross-account use"). Naming another account's
    /// principal is refused and shows nothing of its grants.
    @Test(arguments: MatrixProtocol.allCases)
    func listRetirableGrantsNamesOnlyTheCallersAccount(_ transport: MatrixProtocol) async throws {
        let world = try Self.world
        let tag = transport == .binary ? "b" : "j"
        let key = try await world.createKey(.symmetric)
        let local = try await world.party("l-local-\(tag)", policies: ["all": MatrixWorld.allowEverything])
        let foreign = try await world.party(
            "l-foreign-\(tag)", account: Matrix.accountB, policies: ["all": MatrixWorld.allowEverything])
        let localGrant = try await world.grant(key, to: MatrixWorld.grantTargetARN, [.decrypt], retiring: local.arn)
        let foreignGrant = try await world.grant(key, to: MatrixWorld.grantTargetARN, [.decrypt], retiring: foreign.arn)
        func list(_ party: MatrixParty, _ principal: String) async throws -> (code: String, ids: [String]) {
            let outcome = await party.call(MatrixRequests.listRetirableGrants(principal), via: transport)
            guard outcome.succeeded else { return (outcome.code, []) }
            return (outcome.code, try outcome.decode(KMSMethod.listRetirableGrants).grants.map(\.grantID))
        }

        #expect(try await list(world.party(.admin), foreign.arn).code == Matrix.accessDenied)
        #expect(try await list(foreign, local.arn).code == Matrix.accessDenied)
        #expect(try await list(local, local.arn).ids == [localGrant])
        #expect(try await list(foreign, foreign.arn).ids == [foreignGrant])
    }

    /// A grant token makes a grant count in the very next request (the grantee names it).
    @Test(arguments: MatrixProtocol.allCases)
    func aGrantTokenWorksRightAfterCreateGrant(_ transport: MatrixProtocol) async throws {
        let world = try Self.world
        let tag = transport == .binary ? "b" : "j"
        let key = try await world.createKey(.symmetric)
        let user = try await world.party("t-user-\(tag)")
        var grant = KMSCreateGrantRequest()
        grant.keyID = key
        grant.granteePrincipal = user.arn
        grant.operations = [.encrypt]
        let token = try await world.admin.call(KMSMethod.createGrant, grant).grantToken
        expectCode(
            await user.call(MatrixRequests.encrypt(key, grantTokens: [token]), via: transport), Matrix.ok,
            "Encrypt with the grant token")
        // The grant gives Encrypt and nothing else.
        expectCode(
            await user.call(MatrixRequests.describeKey(key), via: transport), Matrix.accessDenied,
            "DescribeKey beside the grant")
    }
}
