import ArgumentParser
import Foundation
import KMSProto
import KMSRPC

struct DeriveSharedSecret: OperationCommand {
    static let configuration = CommandConfiguration(
        commandName: "derive-shared-secret",
        abstract:
            "ECDH between a KEY_AGREEMENT key's private key and another party's public key; prints the raw shared "
            + "secret."
    )
    static let method = KMSMethod.deriveSharedSecret
    @OptionGroup var global: GlobalOptions
    @Option(help: "Key id, key ARN, alias name or alias ARN.") var keyId: String
    @Option(help: "ECDH.") var keyAgreementAlgorithm: String
    @Option(
        help:
            ArgumentHelp(
                "The other party's public key, DER SubjectPublicKeyInfo on the key's curve: fileb://PATH or - for "
                    + "standard input.")
    ) var publicKey: String
    @Option(parsing: .upToNextOption, help: "Grant tokens.") var grantTokens: [String] = []
    @Flag(help: "Check the request without deriving.") var dryRun = false
    @Option(help: "A Nitro enclave: KeyEncryptionAlgorithm=RSAES_OAEP_SHA_256,AttestationDocument=fileb://PATH.")
    var recipient: String?

    func members() throws -> [String: Any?] {
        [
            "KeyId": keyId, "KeyAgreementAlgorithm": keyAgreementAlgorithm,
            "PublicKey": try ArgumentValues.blob(publicKey, option: "--public-key").base64EncodedString(),
            "GrantTokens": grantTokens.isEmpty ? nil : grantTokens, "DryRun": dryRun ? true : nil,
            "Recipient": try ArgumentValues.recipient(recipient, option: "--recipient"),
        ]
    }
}
