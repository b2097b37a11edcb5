import ArgumentParser
import Foundation
import KMSProto
import KMSRPC

/// The options GenerateDataKeyPair and GenerateDataKeyPairWithoutPlaintext share.
struct DataKeyPairOptions: ParsableArguments {
    @Option(help: "The symmetric key that encrypts the private key: key id, key ARN, alias name or alias ARN.")
    var keyId: String
    @Option(
        help:
            ArgumentHelp(
                "RSA_2048, RSA_3072, RSA_4096, ECC_NIST_P256, ECC_NIST_P384, ECC_NIST_P521, ECC_SECG_P256K1 or "
                    + "ECC_NIST_EDWARDS25519.")
    ) var keyPairSpec: String
    @Option(help: "k=v,k2=v2 or a JSON object; needed again to decrypt the private key.") var encryptionContext: String?
    @Option(parsing: .upToNextOption, help: "Grant tokens.") var grantTokens: [String] = []
    @Flag(help: "Check the request only.") var dryRun = false

    func members() throws -> [String: Any?] {
        [
            "KeyId": keyId, "KeyPairSpec": keyPairSpec,
            "EncryptionContext": try ArgumentValues.context(encryptionContext, option: "--encryption-context"),
            "GrantTokens": grantTokens.isEmpty ? nil : grantTokens, "DryRun": dryRun ? true : nil,
        ]
    }
}

struct GenerateDataKeyPair: OperationCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate-data-key-pair",
        abstract:
            "Make a key pair: its public key (DER), its private key (PKCS #8 DER) and the private key's blob under a "
            + "KMS key."
    )
    static let method = KMSMethod.generateDataKeyPair
    @OptionGroup var global: GlobalOptions
    @OptionGroup var dataKeyPair: DataKeyPairOptions

    @Option(help: "A Nitro enclave: KeyEncryptionAlgorithm=RSAES_OAEP_SHA_256,AttestationDocument=fileb://PATH.")
    var recipient: String?

    func members() throws -> [String: Any?] {
        try dataKeyPair.members().merging(
            ["Recipient": try ArgumentValues.recipient(recipient, option: "--recipient")]) { $1 }
    }
}

struct GenerateDataKeyPairWithoutPlaintext: OperationCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate-data-key-pair-without-plaintext",
        abstract: "Make a key pair and return only its public key and the private key's blob."
    )
    static let method = KMSMethod.generateDataKeyPairWithoutPlaintext
    @OptionGroup var global: GlobalOptions
    @OptionGroup var dataKeyPair: DataKeyPairOptions

    func members() throws -> [String: Any?] { try dataKeyPair.members() }
}
