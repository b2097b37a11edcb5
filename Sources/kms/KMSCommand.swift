import ArgumentParser

@main
struct KMSCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kms",
        abstract: "Call the key management service, in the manner of `aws kms`.",
        discussion: """
            Output is the operation's response as AWS JSON (blobs in base64). Blob arguments take \
            fileb://PATH (raw bytes), file://PATH (text), - (standard input) or a literal string. \
            The endpoint comes from --endpoint or KMS_ENDPOINT (default 127.0.0.1:7400). \
            On failure the error code and message go to standard error and the exit status is 254. \
            The list commands print every page unless --no-paginate, --limit or --marker is given.
            """,
        subcommands: [
            CreateKey.self, DescribeKey.self, ListKeys.self, UpdateKeyDescription.self,
            EnableKey.self, DisableKey.self, ScheduleKeyDeletion.self, CancelKeyDeletion.self,
            Encrypt.self, Decrypt.self, ReEncrypt.self, GenerateDataKey.self,
            GenerateDataKeyWithoutPlaintext.self, GenerateRandom.self,
            Sign.self, Verify.self, GetPublicKey.self, GenerateMac.self, VerifyMac.self,
            GenerateDataKeyPair.self, GenerateDataKeyPairWithoutPlaintext.self, DeriveSharedSecret.self,
            GetParametersForImport.self, ImportKeyMaterial.self, DeleteImportedKeyMaterial.self,
            CreateAlias.self, UpdateAlias.self, DeleteAlias.self, ListAliases.self,
            GetKeyPolicy.self, PutKeyPolicy.self, ListKeyPolicies.self,
            CreateGrant.self, ListGrants.self, ListRetirableGrants.self, RetireGrant.self, RevokeGrant.self,
            EnableKeyRotation.self, DisableKeyRotation.self, GetKeyRotationStatus.self, RotateKeyOnDemand.self,
            ListKeyRotations.self, GetKeyLastUsage.self, TagResource.self, UntagResource.self, ListResourceTags.self,
            ReplicateKey.self, UpdatePrimaryRegion.self,
            CreateCustomKeyStore.self, DescribeCustomKeyStores.self, UpdateCustomKeyStore.self,
            DeleteCustomKeyStore.self, ConnectCustomKeyStore.self, DisconnectCustomKeyStore.self,
            Admin.self, Audit.self, Usage.self, Envelope.self,
        ]
    )
}
