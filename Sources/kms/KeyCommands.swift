import ArgumentParser
import KMSProto
import KMSRPC

struct CreateKey: OperationCommand {
    static let configuration = CommandConfiguration(commandName: "create-key", abstract: "Create a KMS key.")
    static let method = KMSMethod.createKey
    @OptionGroup var global: GlobalOptions
    @Option(help: "A description of the key (up to 8192 characters).") var description: String?
    @Option(
        help:
            ArgumentHelp(
                "ENCRYPT_DECRYPT (default), SIGN_VERIFY, GENERATE_VERIFY_MAC or KEY_AGREEMENT; ECC and HMAC keys must "
                    + "name theirs.")
    ) var keyUsage: String?
    @Option(
        help: """
            SYMMETRIC_DEFAULT (default); RSA_2048, RSA_3072, RSA_4096 (ENCRYPT_DECRYPT or SIGN_VERIFY); \
            ECC_NIST_P256, ECC_NIST_P384, ECC_NIST_P521 (SIGN_VERIFY or KEY_AGREEMENT); ECC_SECG_P256K1, \
            ECC_NIST_EDWARDS25519, ML_DSA_65, ML_DSA_87 (SIGN_VERIFY); HMAC_224, HMAC_256, HMAC_384, HMAC_512 \
            (GENERATE_VERIFY_MAC).
            """) var keySpec: String?
    @Option(help: "The key policy, a JSON document (file://PATH reads it from a file).") var policy: String?
    @Option(
        help:
            ArgumentHelp(
                "AWS_KMS (default), or EXTERNAL for a key whose material you import (get-parameters-for-import, "
                    + "import-key-material).")
    ) var origin: String?
    @Flag(help: "Skip the check that the policy does not lock the caller out.") var bypassPolicyLockoutSafetyCheck =
        false
    @Option(parsing: .upToNextOption, help: "Tags as KEY=VALUE.") var tags: [String] = []
    @Option(help: "The former name of --key-spec (deprecated by AWS; give one or the other).")
    var customerMasterKeySpec: String?
    @Flag(help: "A multi-Region primary key (id mrk-...), which replicate-key copies into other regions.")
    var multiRegion = false
    @Option(help: "With --origin EXTERNAL_KEY_STORE (or AWS_CLOUDHSM): the custom key store (cks-...).")
    var customKeyStoreId: String?
    @Option(help: "With --origin EXTERNAL_KEY_STORE: the external key's id at the store's XKS proxy.")
    var xksKeyId: String?

    func members() throws -> [String: Any?] {
        [
            "CustomKeyStoreId": customKeyStoreId, "XksKeyId": xksKeyId,
            "Description": description, "KeyUsage": keyUsage, "KeySpec": keySpec, "Origin": origin,
            "CustomerMasterKeySpec": customerMasterKeySpec,
            "Tags": tags.isEmpty ? nil : try TagResource.parse(tags),
            "Policy": try policy.map {
                String(decoding: try ArgumentValues.blob($0, option: "--policy"), as: UTF8.self)
            },
            "BypassPolicyLockoutSafetyCheck": bypassPolicyLockoutSafetyCheck ? true : nil,
            "MultiRegion": multiRegion ? true : nil,
        ]
    }
}

struct DescribeKey: OperationCommand {
    static let configuration = CommandConfiguration(commandName: "describe-key", abstract: "Show a key's metadata.")
    static let method = KMSMethod.describeKey
    @OptionGroup var global: GlobalOptions
    @Option(help: "Key id, key ARN, alias name or alias ARN.") var keyId: String
    @Option(parsing: .upToNextOption, help: "Grant tokens.") var grantTokens: [String] = []

    func members() throws -> [String: Any?] {
        ["KeyId": keyId, "GrantTokens": grantTokens.isEmpty ? nil : grantTokens]
    }
}

struct ListKeys: PaginatedCommand {
    static let configuration = CommandConfiguration(
        commandName: "list-keys", abstract: "List the keys of the account and region.")
    static let method = KMSMethod.listKeys
    @OptionGroup var global: GlobalOptions
    @OptionGroup var paging: PagingOptions
    @Option(help: "Keys per page, 1..1000 (default 100).") var limit: Int?
    @Option(help: "NextMarker of the previous page.") var marker: String?

    func members() throws -> [String: Any?] { ["Limit": limit, "Marker": marker] }
}

struct UpdateKeyDescription: OperationCommand {
    static let configuration = CommandConfiguration(
        commandName: "update-key-description", abstract: "Replace a key's description.")
    static let method = KMSMethod.updateKeyDescription
    @OptionGroup var global: GlobalOptions
    @Option(help: "Key id or key ARN.") var keyId: String
    @Option(help: "The new description.") var description: String

    func members() throws -> [String: Any?] { ["KeyId": keyId, "Description": description] }
}

struct EnableKey: OperationCommand {
    static let configuration = CommandConfiguration(commandName: "enable-key", abstract: "Enable a key.")
    static let method = KMSMethod.enableKey
    @OptionGroup var global: GlobalOptions
    @Option(help: "Key id or key ARN.") var keyId: String

    func members() throws -> [String: Any?] { ["KeyId": keyId] }
}

struct DisableKey: OperationCommand {
    static let configuration = CommandConfiguration(
        commandName: "disable-key", abstract: "Disable a key: it stays, but no operation may use it.")
    static let method = KMSMethod.disableKey
    @OptionGroup var global: GlobalOptions
    @Option(help: "Key id or key ARN.") var keyId: String

    func members() throws -> [String: Any?] { ["KeyId": keyId] }
}

struct ScheduleKeyDeletion: OperationCommand {
    static let configuration = CommandConfiguration(
        commandName: "schedule-key-deletion",
        abstract:
            "Delete a key after a waiting period of 7 to 30 days (default 30), which cancel-key-deletion can stop.",
        discussion: "Once deleted, every ciphertext made under the key can never be decrypted again."
    )
    static let method = KMSMethod.scheduleKeyDeletion
    @OptionGroup var global: GlobalOptions
    @Option(help: "Key id or key ARN.") var keyId: String
    @Option(help: "Days to wait, 7..30.") var pendingWindowInDays: Int?

    func members() throws -> [String: Any?] { ["KeyId": keyId, "PendingWindowInDays": pendingWindowInDays] }
}

struct CancelKeyDeletion: OperationCommand {
    static let configuration = CommandConfiguration(
        commandName: "cancel-key-deletion", abstract: "Cancel a scheduled deletion; the key is left disabled.")
    static let method = KMSMethod.cancelKeyDeletion
    @OptionGroup var global: GlobalOptions
    @Option(help: "Key id or key ARN.") var keyId: String

    func members() throws -> [String: Any?] { ["KeyId": keyId] }
}
