import Foundation
import KMSProto

extension Matrix {
    static let message = Data("matrix".utf8)

    /// One row per operation of the service. Where AWS's documents leave a cell open, the
    /// row says which reading it takes.
    static let rows: [MatrixRow] = [
        // MARK: operations on no key (identity policies only)
        MatrixRow("CreateKey", nil, authority: .identity(ownAccountOnly: false)) { _, _ in
            var request = KMSCreateKeyRequest()
            request.description_p = "matrix"
            return MatrixRequest(KMSMethod.createKey, request)
        },
        MatrixRow("ListKeys", nil, authority: .identity(ownAccountOnly: false)) { _, _ in
            var request = KMSListKeysRequest()
            request.limit = 1
            return MatrixRequest(KMSMethod.listKeys, request)
        },
        MatrixRow("GenerateRandom", nil, authority: .identity(ownAccountOnly: false)) { _, _ in
            var request = KMSGenerateRandomRequest()
            request.numberOfBytes = 16
            return MatrixRequest(KMSMethod.generateRandom, request)
        },
        MatrixRow("ListAliases", nil, authority: .identity(ownAccountOnly: false)) { _, _ in
            var request = KMSListAliasesRequest()
            request.limit = 1
            return MatrixRequest(KMSMethod.listAliases, request)
        },
        // "The RetiringPrincipal must be a principal of the caller's account" (issue 15, item 6):
        // the principal named is one of account A.
        MatrixRow("ListRetirableGrants", nil, authority: .identity(ownAccountOnly: true)) { _, _ in
            var request = KMSListRetirableGrantsRequest()
            request.retiringPrincipal = Matrix.user(Matrix.accountA, MatrixWorld.keyPolicyUserName)
            return MatrixRequest(KMSMethod.listRetirableGrants, request)
        },

        // MARK: custom key stores (IAM permissions only, never across accounts: a store of
        // another account is never found). Each cell creates a store of its own; the others
        // name one that does not exist, so an allowed caller learns that and nothing changes.
        MatrixRow("CreateCustomKeyStore", nil, authority: .identity(ownAccountOnly: false)) { _, _ in
            let tag = UUID().uuidString.lowercased().prefix(12)
            var request = KMSCreateCustomKeyStoreRequest()
            request.customKeyStoreName = "matrix-\(tag)"
            request.customKeyStoreType = .externalKeyStore
            request.xksProxyUriEndpoint = "https://m-\(tag).example.com"
            request.xksProxyUriPath = "/kms/xks/v1"
            request.xksProxyConnectivity = .publicEndpoint
            request.xksProxyAuthenticationCredential.accessKeyID = "MATRIXACCESSKEYID2345"
            request.xksProxyAuthenticationCredential.rawSecretAccessKey = String(repeating: "s", count: 43)
            return MatrixRequest(KMSMethod.createCustomKeyStore, request)
        },
        MatrixRow("DescribeCustomKeyStores", nil, authority: .identity(ownAccountOnly: false)) { _, _ in
            var request = KMSDescribeCustomKeyStoresRequest()
            request.limit = 1
            return MatrixRequest(KMSMethod.describeCustomKeyStores, request)
        },
        MatrixRow(
            "UpdateCustomKeyStore", nil, authority: .identity(ownAccountOnly: false), allowed: Matrix.storeNotFound
        ) { _, _ in
            var request = KMSUpdateCustomKeyStoreRequest()
            request.customKeyStoreID = Matrix.missingStore
            request.newCustomKeyStoreName = "renamed"
            return MatrixRequest(KMSMethod.updateCustomKeyStore, request)
        },
        MatrixRow(
            "DeleteCustomKeyStore", nil, authority: .identity(ownAccountOnly: false), allowed: Matrix.storeNotFound
        ) { _, _ in
            var request = KMSDeleteCustomKeyStoreRequest()
            request.customKeyStoreID = Matrix.missingStore
            return MatrixRequest(KMSMethod.deleteCustomKeyStore, request)
        },
        MatrixRow(
            "ConnectCustomKeyStore", nil, authority: .identity(ownAccountOnly: false), allowed: Matrix.storeNotFound
        ) { _, _ in
            var request = KMSConnectCustomKeyStoreRequest()
            request.customKeyStoreID = Matrix.missingStore
            return MatrixRequest(KMSMethod.connectCustomKeyStore, request)
        },
        MatrixRow(
            "DisconnectCustomKeyStore", nil, authority: .identity(ownAccountOnly: false), allowed: Matrix.storeNotFound
        ) { _, _ in
            var request = KMSDisconnectCustomKeyStoreRequest()
            request.customKeyStoreID = Matrix.missingStore
            return MatrixRequest(KMSMethod.disconnectCustomKeyStore, request)
        },

        // MARK: key metadata and life cycle
        MatrixRow("DescribeKey", .symmetric, crossAccount: true, grant: [.describeKey], aliases: true) { _, target in
            var request = KMSDescribeKeyRequest()
            request.keyID = target.key
            return MatrixRequest(KMSMethod.describeKey, request)
        },
        MatrixRow("UpdateKeyDescription", .symmetric, states: .notPendingDeletion, serial: true) { _, target in
            var request = KMSUpdateKeyDescriptionRequest()
            request.keyID = target.key
            request.description_p = "matrix"
            return MatrixRequest(KMSMethod.updateKeyDescription, request)
        },
        MatrixRow("EnableKey", .symmetric, states: .notPendingDeletion, changesKeyState: true) { _, target in
            var request = KMSEnableKeyRequest()
            request.keyID = target.key
            return MatrixRequest(KMSMethod.enableKey, request)
        },
        MatrixRow("DisableKey", .symmetric, states: .notPendingDeletion, changesKeyState: true) { _, target in
            var request = KMSDisableKeyRequest()
            request.keyID = target.key
            return MatrixRequest(KMSMethod.disableKey, request)
        },
        MatrixRow("ScheduleKeyDeletion", .symmetric, states: .notPendingDeletion, changesKeyState: true) { _, target in
            var request = KMSScheduleKeyDeletionRequest()
            request.keyID = target.key
            request.pendingWindowInDays = 7
            return MatrixRequest(KMSMethod.scheduleKeyDeletion, request)
        },
        MatrixRow("CancelKeyDeletion", .symmetric, states: .onlyPendingDeletion, changesKeyState: true) { _, target in
            var request = KMSCancelKeyDeletionRequest()
            request.keyID = target.key
            return MatrixRequest(KMSMethod.cancelKeyDeletion, request)
        },
        // Not an AWS operation; read-only metadata, so it follows DescribeKey's states but, like
        // the other metadata reads AWS does not list as cross-account, stays in the key's account.
        MatrixRow("GetKeyLastUsage", .symmetric) { _, target in
            var request = KMSGetKeyLastUsageRequest()
            request.keyID = target.key
            return MatrixRequest(KMSMethod.getKeyLastUsage, request)
        },

        // MARK: cryptography
        MatrixRow("Encrypt", .symmetric, crossAccount: true, grant: [.encrypt], states: .usable, aliases: true) {
            _, target in
            var request = KMSEncryptRequest()
            request.keyID = target.key
            request.plaintext = Matrix.message
            return MatrixRequest(KMSMethod.encrypt, request)
        },
        MatrixRow("Decrypt", .symmetric, crossAccount: true, grant: [.decrypt], states: .usable, aliases: true) {
            fixture, target in
            var request = KMSDecryptRequest()
            request.ciphertextBlob = fixture.ciphertext
            request.keyID = target.key
            return MatrixRequest(KMSMethod.decrypt, request)
        },
        MatrixRow(
            "ReEncrypt", .symmetric, crossAccount: true, grant: [.reEncryptFrom, .reEncryptTo], states: .usable,
            aliases: true
        ) { fixture, target in
            var request = KMSReEncryptRequest()
            request.ciphertextBlob = fixture.ciphertext
            request.sourceKeyID = target.key
            request.destinationKeyID = target.key
            return MatrixRequest(KMSMethod.reEncrypt, request)
        },
        MatrixRow(
            "GenerateDataKey", .symmetric, crossAccount: true, grant: [.generateDataKey], states: .usable, aliases: true
        ) { _, target in
            var request = KMSGenerateDataKeyRequest()
            request.keyID = target.key
            request.keySpec = .aes256
            return MatrixRequest(KMSMethod.generateDataKey, request)
        },
        MatrixRow(
            "GenerateDataKeyWithoutPlaintext", .symmetric, crossAccount: true,
            grant: [.generateDataKeyWithoutPlaintext],
            states: .usable, aliases: true
        ) { _, target in
            var request = KMSGenerateDataKeyWithoutPlaintextRequest()
            request.keyID = target.key
            request.keySpec = .aes256
            return MatrixRequest(KMSMethod.generateDataKeyWithoutPlaintext, request)
        },
        MatrixRow(
            "GenerateDataKeyPair", .symmetric, crossAccount: true, grant: [.generateDataKeyPair], states: .usable,
            aliases: true
        ) { _, target in
            var request = KMSGenerateDataKeyPairRequest()
            request.keyID = target.key
            request.keyPairSpec = .eccNistP256
            return MatrixRequest(KMSMethod.generateDataKeyPair, request)
        },
        MatrixRow(
            "GenerateDataKeyPairWithoutPlaintext", .symmetric, crossAccount: true,
            grant: [.generateDataKeyPairWithoutPlaintext],
            states: .usable, aliases: true
        ) { _, target in
            var request = KMSGenerateDataKeyPairWithoutPlaintextRequest()
            request.keyID = target.key
            request.keyPairSpec = .eccNistP256
            return MatrixRequest(KMSMethod.generateDataKeyPairWithoutPlaintext, request)
        },
        MatrixRow("Sign", .signing, crossAccount: true, grant: [.sign], states: .usable, aliases: true) { _, target in
            var request = KMSSignRequest()
            request.keyID = target.key
            request.message = Matrix.message
            request.signingAlgorithm = .ecdsaSha256
            return MatrixRequest(KMSMethod.sign, request)
        },
        MatrixRow("Verify", .signing, crossAccount: true, grant: [.verify], states: .usable, aliases: true) {
            fixture, target in
            var request = KMSVerifyRequest()
            request.keyID = target.key
            request.message = Matrix.message
            request.signature = fixture.signature
            request.signingAlgorithm = .ecdsaSha256
            return MatrixRequest(KMSMethod.verify, request)
        },
        MatrixRow("GetPublicKey", .signing, crossAccount: true, grant: [.getPublicKey], states: .usable, aliases: true)
        { _, target in
            var request = KMSGetPublicKeyRequest()
            request.keyID = target.key
            return MatrixRequest(KMSMethod.getPublicKey, request)
        },
        MatrixRow("GenerateMac", .hmac, crossAccount: true, grant: [.generateMac], states: .usable, aliases: true) {
            _, target in
            var request = KMSGenerateMacRequest()
            request.keyID = target.key
            request.message = Matrix.message
            request.macAlgorithm = .hmacSha256
            return MatrixRequest(KMSMethod.generateMac, request)
        },
        MatrixRow("VerifyMac", .hmac, crossAccount: true, grant: [.verifyMac], states: .usable, aliases: true) {
            fixture, target in
            var request = KMSVerifyMacRequest()
            request.keyID = target.key
            request.message = Matrix.message
            request.mac = fixture.mac
            request.macAlgorithm = .hmacSha256
            return MatrixRequest(KMSMethod.verifyMac, request)
        },
        MatrixRow(
            "DeriveSharedSecret", .agreement, crossAccount: true, grant: [.deriveSharedSecret], states: .usable,
            aliases: true
        ) { fixture, target in
            var request = KMSDeriveSharedSecretRequest()
            request.keyID = target.key
            request.keyAgreementAlgorithm = .ecdh
            request.publicKey = fixture.publicKey
            return MatrixRequest(KMSMethod.deriveSharedSecret, request)
        },

        // MARK: imported key material ([8]: KMSInvalidStateException while pending deletion)
        MatrixRow("GetParametersForImport", .external, states: .notPendingDeletion, makesRSAKey: true) { _, target in
            var request = KMSGetParametersForImportRequest()
            request.keyID = target.key
            request.wrappingAlgorithm = .rsaAesKeyWrapSha256
            request.wrappingKeySpec = .rsa2048
            return MatrixRequest(KMSMethod.getParametersForImport, request)
        },
        MatrixRow("ImportKeyMaterial", .external, states: .notPendingDeletion, serial: true) { fixture, target in
            var request = KMSImportKeyMaterialRequest()
            request.keyID = target.key
            request.importToken = fixture.importToken
            request.encryptedKeyMaterial = fixture.encryptedMaterial
            request.expirationModel = .keyMaterialDoesNotExpire
            return MatrixRequest(KMSMethod.importKeyMaterial, request)
        },
        // Pending deletion: X in the key state table (its footnote [9] is about keys that cannot
        // have imported material; this one has), so the pending-deletion refusal of [3].
        MatrixRow("DeleteImportedKeyMaterial", .external, states: .notPendingDeletion, changesKeyState: true) {
            _, target in
            var request = KMSDeleteImportedKeyMaterialRequest()
            request.keyID = target.key
            return MatrixRequest(KMSMethod.deleteImportedKeyMaterial, request)
        },

        // MARK: aliases
        // Account B names A's key by its ARN. CreateAlias is "Cross-account use: No" and "the
        // alias and the KMS key must be in the same account and Region" (API reference), which
        // does not say how it refuses: AccessDeniedException (the key is found and the
        // operation refused across accounts, as for every key operation AWS keeps in the key's
        // account) or NotFoundException (a target is looked for in the caller's account only)
        // both tell account B nothing, so both are accepted.
        MatrixRow(
            "CreateAlias", .symmetric, authority: .aliasAndKey(otherAccount: [Matrix.notFound, Matrix.accessDenied]),
            states: .notPendingDeletion,
            perCell: .newAliasName
        ) { _, target in
            var request = KMSCreateAliasRequest()
            request.aliasName = target.resource
            request.targetKeyID = target.key
            return MatrixRequest(KMSMethod.createAlias, request)
        },
        // The alias (of account A) points at a second key in the same state; the target is the
        // row's key. AliasName is a name, resolved in the caller's account: account B has no
        // such alias. Whether AWS looks at the alias or the target first is not documented, so
        // B's cell accepts NotFoundException (the alias) or AccessDeniedException (the target).
        // Pending deletion: "If the destination KMS key is pending deletion, the command fails
        // with KMSInvalidStateException" (key state table, note [10]).
        MatrixRow(
            "UpdateAlias", .symmetric, authority: .aliasAndKey(otherAccount: [Matrix.notFound, Matrix.accessDenied]),
            states: .notPendingDeletion, serial: true
        ) { fixture, target in
            var request = KMSUpdateAliasRequest()
            request.aliasName = fixture.updatedAlias
            request.targetKeyID = target.key
            return MatrixRequest(KMSMethod.updateAlias, request)
        },
        MatrixRow(
            "DeleteAlias", .symmetric, authority: .aliasAndKey(otherAccount: [Matrix.notFound]), namesKey: false,
            perCell: .alias
        ) { _, target in
            var request = KMSDeleteAliasRequest()
            request.aliasName = target.resource
            return MatrixRequest(KMSMethod.deleteAlias, request)
        },

        // MARK: grants
        // A grant-authorized CreateGrant may pass on only operations of its own grant, so the
        // grantee's grant here carries DescribeKey, the operation the request grants.
        MatrixRow("CreateGrant", .symmetric, crossAccount: true, grant: [.createGrant, .describeKey], states: .usable) {
            _, target in
            var request = KMSCreateGrantRequest()
            request.keyID = target.key
            request.granteePrincipal = MatrixWorld.grantTargetARN
            request.operations = [.describeKey]
            return MatrixRequest(KMSMethod.createGrant, request)
        },
        MatrixRow("ListGrants", .symmetric, crossAccount: true) { _, target in
            var request = KMSListGrantsRequest()
            request.keyID = target.key
            return MatrixRequest(KMSMethod.listGrants, request)
        },
        MatrixRow(
            "RetireGrant", .symmetric, crossAccount: true, grant: [.retireGrant], authority: .grant,
            perCell: .grantToRetire
        ) { _, target in
            var request = KMSRetireGrantRequest()
            request.keyID = target.key
            request.grantID = target.resource
            return MatrixRequest(KMSMethod.retireGrant, request)
        },
        MatrixRow("RevokeGrant", .symmetric, crossAccount: true, perCell: .grantToRevoke) { _, target in
            var request = KMSRevokeGrantRequest()
            request.keyID = target.key
            request.grantID = target.resource
            return MatrixRequest(KMSMethod.revokeGrant, request)
        },

        // MARK: key policies (PutKeyPolicy writes the policy the key already has; it works in
        // every state, pending deletion included, by the key state table)
        MatrixRow("GetKeyPolicy", .symmetric) { _, target in
            var request = KMSGetKeyPolicyRequest()
            request.keyID = target.key
            request.policyName = "default"
            return MatrixRequest(KMSMethod.getKeyPolicy, request)
        },
        MatrixRow("PutKeyPolicy", .symmetric, serial: true) { _, target in
            var request = KMSPutKeyPolicyRequest()
            request.keyID = target.key
            request.policyName = "default"
            request.policy = MatrixWorld.keyPolicy
            return MatrixRequest(KMSMethod.putKeyPolicy, request)
        },
        MatrixRow("ListKeyPolicies", .symmetric) { _, target in
            var request = KMSListKeyPoliciesRequest()
            request.keyID = target.key
            return MatrixRequest(KMSMethod.listKeyPolicies, request)
        },

        // MARK: rotation
        MatrixRow("EnableKeyRotation", .symmetric, states: .usable, serial: true) { _, target in
            var request = KMSEnableKeyRotationRequest()
            request.keyID = target.key
            return MatrixRequest(KMSMethod.enableKeyRotation, request)
        },
        MatrixRow("DisableKeyRotation", .symmetric, states: .usable, serial: true) { _, target in
            var request = KMSDisableKeyRotationRequest()
            request.keyID = target.key
            return MatrixRequest(KMSMethod.disableKeyRotation, request)
        },
        // Pending deletion: "While a KMS key is pending deletion, its key rotation status is
        // false" (GetKeyRotationStatus API reference): answered, not refused.
        MatrixRow("GetKeyRotationStatus", .symmetric, crossAccount: true) { _, target in
            var request = KMSGetKeyRotationStatusRequest()
            request.keyID = target.key
            return MatrixRequest(KMSMethod.getKeyRotationStatus, request)
        },
        // Rotates the key's material each time it succeeds (8 successes per key, under the limit).
        MatrixRow("RotateKeyOnDemand", .symmetric, states: .usable, serial: true) { _, target in
            var request = KMSRotateKeyOnDemandRequest()
            request.keyID = target.key
            return MatrixRequest(KMSMethod.rotateKeyOnDemand, request)
        },
        // MARK: multi-Region keys (the matrix's keys are single-Region: MultiRegionAuthorizationTests
        // has the multi-Region cases). kms:ReplicateKey and kms:UpdatePrimaryRegion on the key,
        // never across accounts.
        MatrixRow("ReplicateKey", .symmetric, states: .notMultiRegion) { _, target in
            var request = KMSReplicateKeyRequest()
            request.keyID = target.key
            request.replicaRegion = Matrix.otherRegion
            return MatrixRequest(KMSMethod.replicateKey, request)
        },
        MatrixRow("UpdatePrimaryRegion", .symmetric, states: .notMultiRegion) { _, target in
            var request = KMSUpdatePrimaryRegionRequest()
            request.keyID = target.key
            request.primaryRegion = Matrix.otherRegion
            return MatrixRequest(KMSMethod.updatePrimaryRegion, request)
        },
        MatrixRow("ListKeyRotations", .symmetric) { _, target in
            var request = KMSListKeyRotationsRequest()
            request.keyID = target.key
            return MatrixRequest(KMSMethod.listKeyRotations, request)
        },

        // MARK: tags (TagResource sets the same tag every time; UntagResource removes one never set)
        MatrixRow("TagResource", .symmetric, states: .notPendingDeletion, serial: true) { _, target in
            var request = KMSTagResourceRequest()
            request.keyID = target.key
            var tag = KMSTag()
            tag.tagKey = "matrix"
            tag.tagValue = "1"
            request.tags = [tag]
            return MatrixRequest(KMSMethod.tagResource, request)
        },
        MatrixRow("UntagResource", .symmetric, states: .notPendingDeletion, serial: true) { _, target in
            var request = KMSUntagResourceRequest()
            request.keyID = target.key
            request.tagKeys = ["matrix-never-set"]
            return MatrixRequest(KMSMethod.untagResource, request)
        },
        MatrixRow("ListResourceTags", .symmetric) { _, target in
            var request = KMSListResourceTagsRequest()
            request.keyID = target.key
            return MatrixRequest(KMSMethod.listResourceTags, request)
        },
    ]
}
