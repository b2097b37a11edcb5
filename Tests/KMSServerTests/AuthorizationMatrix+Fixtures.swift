import Foundation
import KMSClient
import KMSCrypto
import KMSProto

/// A key of one row in one state, with everything its requests need, made by the admin while
/// the key was still enabled.
struct MatrixFixture: Sendable {
    var keyID = ""
    /// An alias of the key (rows that accept aliases), for the alias name and alias ARN cells.
    var aliasName = ""
    var ciphertext = Data()
    var signature = Data()
    var mac = Data()
    var publicKey = Data()
    var importToken = Data()
    var encryptedMaterial = Data()
    /// UpdateAlias: an alias pointing at a second key in the same state.
    var updatedAlias = ""
    /// What each cell consumes (an alias name, a grant id), by MatrixCell.slug.
    var resources: [String: String] = [:]

    /// How `cell` names the key, and the resource it consumes.
    func target(for cell: MatrixCell) -> MatrixTarget {
        let key: String
        switch cell.reference {
        case .natural: key = cell.actor.isOtherAccount ? Matrix.keyARN(self.keyID) : self.keyID
        case .bareKeyID, .callerInOtherRegion: key = self.keyID
        case .aliasName: key = self.aliasName
        case .aliasARN: key = Matrix.aliasARN(self.aliasName)
        case .otherAccountARN: key = Matrix.keyARN(self.keyID, account: Matrix.accountB)
        case .otherRegionARN: key = Matrix.keyARN(self.keyID, region: Matrix.otherRegion)
        case .unservedRegionARN: key = Matrix.keyARN(self.keyID, region: Matrix.unservedRegion)
        }
        return MatrixTarget(key: key, resource: self.resources[cell.slug] ?? "")
    }
}

extension MatrixWorld {
    /// Makes `row`'s key in `state`, with an alias when `aliased`, and the resources `cells`
    /// consume; grants for the grantee (the row's operations, or DescribeKey when no grant can
    /// allow it) and the other grantee (an operation that is not the row's).
    func fixture(for row: MatrixRow, state: MatrixState, cells: [MatrixCell], aliased: Bool) async throws
        -> MatrixFixture
    {
        let kind = try requireValue(row.key, "\(row.operation) is not a key operation")
        var fixture = try await self.keyWithInputs(kind)
        let granted = row.grant ?? [.describeKey]
        let grantee = self.party(.grantee).arn
        let otherGrantee = self.party(.otherGrantee).arn
        let keyID = fixture.keyID
        if aliased { fixture.aliasName = "alias/m-\(row.operation)-\(state.rawValue)" }
        // Everything below only adds to the key: made concurrently.
        var jobs: [@Sendable () async throws -> (String, String)?] = [
            {
                try await self.grant(keyID, to: grantee, granted)
                return nil
            },
            {
                try await self.grant(
                    keyID, to: otherGrantee, granted.contains(.describeKey) ? [.retireGrant] : [.describeKey])
                return nil
            },
        ]
        if aliased {
            let name = fixture.aliasName
            jobs.append {
                try await self.alias(name, to: keyID)
                return nil
            }
        }
        for cell in cells {
            let slug = cell.slug
            switch row.perCell {
            case .newAliasName:
                fixture.resources[slug] = "alias/m-\(slug)"
            case .alias:
                jobs.append {
                    try await self.alias("alias/m-\(slug)", to: keyID)
                    return (slug, "alias/m-\(slug)")
                }
            case .grantToRevoke:
                jobs.append { (slug, try await self.grant(keyID, to: Self.grantTargetARN, [.describeKey])) }
            case .grantToRetire:
                jobs.append { (slug, try await self.grant(keyID, to: grantee, [.retireGrant])) }
            case nil:
                break
            }
        }
        for (slug, resource) in try await Self.all(jobs, limit: 8) { fixture.resources[slug] = resource }
        var keys = [fixture.keyID]
        if row.operation == "UpdateAlias" {
            let current = try await self.createKey(kind)
            fixture.updatedAlias = "alias/m-updated-\(state.rawValue)"
            try await self.alias(fixture.updatedAlias, to: current)
            keys.append(current)
        }
        for keyID in keys { try await self.put(keyID, in: state) }
        return fixture
    }

    private func keyWithInputs(_ kind: MatrixKeyKind) async throws -> MatrixFixture {
        var fixture = MatrixFixture()
        fixture.keyID = try await self.createKey(kind)
        switch kind {
        case .symmetric:
            var encrypt = KMSEncryptRequest()
            encrypt.keyID = fixture.keyID
            encrypt.plaintext = Matrix.message
            fixture.ciphertext = try await self.admin.call(KMSMethod.encrypt, encrypt).ciphertextBlob
        case .signing:
            var sign = KMSSignRequest()
            sign.keyID = fixture.keyID
            sign.message = Matrix.message
            sign.signingAlgorithm = .ecdsaSha256
            fixture.signature = try await self.admin.call(KMSMethod.sign, sign).signature
        case .hmac:
            var mac = KMSGenerateMacRequest()
            mac.keyID = fixture.keyID
            mac.message = Matrix.message
            mac.macAlgorithm = .hmacSha256
            fixture.mac = try await self.admin.call(KMSMethod.generateMac, mac).mac
        case .agreement:
            // The key's own public key is a valid peer key of its curve.
            var get = KMSGetPublicKeyRequest()
            get.keyID = fixture.keyID
            fixture.publicKey = try await self.admin.call(KMSMethod.getPublicKey, get).publicKey
        case .external:
            var parameters = KMSGetParametersForImportRequest()
            parameters.keyID = fixture.keyID
            parameters.wrappingAlgorithm = .rsaAesKeyWrapSha256
            parameters.wrappingKeySpec = .rsa2048
            await self.rsaGate.acquire()
            let answer: KMSGetParametersForImportResponse
            do {
                answer = try await self.admin.call(KMSMethod.getParametersForImport, parameters)
                await self.rsaGate.release()
            } catch {
                await self.rsaGate.release()
                throw error
            }
            let wrappingKey = try PublicKey(spkiDER: [UInt8](answer.publicKey), spec: .rsa2048)
            let material = (0..<32).map { UInt8($0 &* 7 &+ 3) }
            fixture.importToken = answer.importToken
            fixture.encryptedMaterial = Data(
                try ImportedKeyMaterial.wrap(material, algorithm: .rsaAesKeyWrapSha256, wrappingKey: wrappingKey))
            var request = KMSImportKeyMaterialRequest()
            request.keyID = fixture.keyID
            request.importToken = fixture.importToken
            request.encryptedKeyMaterial = fixture.encryptedMaterial
            request.expirationModel = .keyMaterialDoesNotExpire
            _ = try await self.admin.call(KMSMethod.importKeyMaterial, request)
        }
        return fixture
    }

    /// A key of `kind` under the matrix key policy, as the admin.
    func createKey(_ kind: MatrixKeyKind, policy: String = MatrixWorld.keyPolicy) async throws -> String {
        var request = KMSCreateKeyRequest()
        request.description_p = "matrix"
        request.policy = policy
        switch kind {
        case .symmetric: break
        case .signing:
            request.keySpec = .eccNistP256
            request.keyUsage = .signVerify
        case .hmac:
            request.keySpec = .hmac256
            request.keyUsage = .generateVerifyMac
        case .agreement:
            request.keySpec = .eccNistP256
            request.keyUsage = .keyAgreement
        case .external:
            request.origin = .external
        }
        return try await self.admin.call(KMSMethod.createKey, request).keyMetadata.keyID
    }

    /// Runs `jobs`, at most `limit` at a time; the pairs they return.
    static func all(_ jobs: [@Sendable () async throws -> (String, String)?], limit: Int) async throws -> [(
        String, String
    )] {
        try await withThrowingTaskGroup(of: (String, String)?.self) { group in
            var pending = jobs.makeIterator()
            for _ in 0..<limit {
                guard let job = pending.next() else { break }
                group.addTask { try await job() }
            }
            var results: [(String, String)] = []
            while let result = try await group.next() {
                if let result { results.append(result) }
                if let job = pending.next() { group.addTask { try await job() } }
            }
            return results
        }
    }

    /// A grant by the admin; returns its id.
    @discardableResult
    func grant(_ keyID: String, to grantee: String, _ operations: [KMSGrantOperation], retiring: String? = nil)
        async throws -> String
    {
        var request = KMSCreateGrantRequest()
        request.keyID = keyID
        request.granteePrincipal = grantee
        request.operations = operations
        if let retiring { request.retiringPrincipal = retiring }
        return try await self.admin.call(KMSMethod.createGrant, request).grantID
    }

    func alias(_ name: String, to keyID: String) async throws {
        var request = KMSCreateAliasRequest()
        request.aliasName = name
        request.targetKeyID = keyID
        _ = try await self.admin.call(KMSMethod.createAlias, request)
    }

    /// Drives the fixture's key back to `state` after a cell changed it (deleted its imported
    /// material, disabled it, scheduled or cancelled its deletion), one transition at a time,
    /// and checks that it got there.
    func restore(_ fixture: MatrixFixture, to state: MatrixState) async throws {
        var current = try await self.state(of: fixture.keyID)
        for _ in 0..<3 {
            switch (current, state) {
            case (.enabled, .enabled), (.disabled, .disabled), (.pendingDeletion, .pendingDeletion):
                break
            case (.pendingImport, _):
                var request = KMSImportKeyMaterialRequest()
                request.keyID = fixture.keyID
                request.importToken = fixture.importToken
                request.encryptedKeyMaterial = fixture.encryptedMaterial
                request.expirationModel = .keyMaterialDoesNotExpire
                _ = try await self.admin.call(KMSMethod.importKeyMaterial, request)
                current = .enabled
                continue
            case (.pendingDeletion, _):
                var request = KMSCancelKeyDeletionRequest()
                request.keyID = fixture.keyID
                _ = try await self.admin.call(KMSMethod.cancelKeyDeletion, request)
                current = .disabled
                continue
            case (.disabled, .enabled):
                var request = KMSEnableKeyRequest()
                request.keyID = fixture.keyID
                _ = try await self.admin.call(KMSMethod.enableKey, request)
            default:
                try await self.put(fixture.keyID, in: state)
            }
            break
        }
        let reached = try await self.state(of: fixture.keyID)
        guard reached.awsName == state.rawValue else {
            throw AWSJSONTestClientError("\(fixture.keyID) is \(reached.awsName), not back to \(state.rawValue)")
        }
    }

    private func state(of keyID: String) async throws -> KMSKeyState {
        var describe = KMSDescribeKeyRequest()
        describe.keyID = keyID
        return try await self.admin.call(KMSMethod.describeKey, describe).keyMetadata.keyState
    }

    func put(_ keyID: String, in state: MatrixState) async throws {
        switch state {
        case .enabled:
            break
        case .disabled:
            var request = KMSDisableKeyRequest()
            request.keyID = keyID
            _ = try await self.admin.call(KMSMethod.disableKey, request)
        case .pendingDeletion:
            var request = KMSScheduleKeyDeletionRequest()
            request.keyID = keyID
            request.pendingWindowInDays = 7
            _ = try await self.admin.call(KMSMethod.scheduleKeyDeletion, request)
        }
    }
}
