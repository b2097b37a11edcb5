import ArgumentParser
import Foundation
import KMSProto
import KMSRPC

struct Sign: OperationCommand {
    static let configuration = CommandConfiguration(
        commandName: "sign",
        abstract: "Sign a message (up to 4096 bytes) or its digest with an asymmetric SIGN_VERIFY key.",
        discussion:
            "The signature is DER for ECDSA, as AWS gives it; get-public-key returns the key to check it offline."
    )
    static let method = KMSMethod.sign
    @OptionGroup var global: GlobalOptions
    @Option(help: "Key id, key ARN, alias name or alias ARN.") var keyId: String
    @Option(help: "fileb://PATH, file://PATH, - for standard input, or a literal string.") var message: String
    @Option(
        help: ArgumentHelp(
            "RAW (default), DIGEST (the message is already hashed with the algorithm's hash) or EXTERNAL_MU (AWS's "
                + "ML-DSA mu; this service refuses it).")
    )
    var messageType: String?
    @Option(
        help: ArgumentHelp(
            "RSASSA_PSS_SHA_256|384|512, RSASSA_PKCS1_V1_5_SHA_256|384|512, ECDSA_SHA_256|384|512, ED25519_SHA_512 or "
                + "ML_DSA_SHAKE_256.")
    ) var signingAlgorithm: String
    @Option(parsing: .upToNextOption, help: "Grant tokens.") var grantTokens: [String] = []
    @Flag(help: "Check the request without signing.") var dryRun = false

    func members() throws -> [String: Any?] {
        [
            "KeyId": keyId, "Message": try ArgumentValues.blob(message, option: "--message").base64EncodedString(),
            "MessageType": messageType, "SigningAlgorithm": signingAlgorithm,
            "GrantTokens": grantTokens.isEmpty ? nil : grantTokens, "DryRun": dryRun ? true : nil,
        ]
    }
}

struct Verify: OperationCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract:
            "Check a signature made by sign; a signature that does not match fails with KMSInvalidSignatureException."
    )
    static let method = KMSMethod.verify
    @OptionGroup var global: GlobalOptions
    @Option(help: "Key id, key ARN, alias name or alias ARN.") var keyId: String
    @Option(help: "The signed message, as given to sign: fileb://PATH, file://PATH, - or a literal string.")
    var message: String
    @Option(help: "RAW (default), DIGEST or EXTERNAL_MU, as given to sign.") var messageType: String?
    @Option(help: "fileb://PATH (the raw signature), or - for standard input.") var signature: String
    @Option(help: "The algorithm the signature was made with.") var signingAlgorithm: String
    @Option(parsing: .upToNextOption, help: "Grant tokens.") var grantTokens: [String] = []
    @Flag(help: "Check the request without verifying.") var dryRun = false

    func members() throws -> [String: Any?] {
        [
            "KeyId": keyId, "Message": try ArgumentValues.blob(message, option: "--message").base64EncodedString(),
            "MessageType": messageType,
            "Signature": try ArgumentValues.blob(signature, option: "--signature").base64EncodedString(),
            "SigningAlgorithm": signingAlgorithm,
            "GrantTokens": grantTokens.isEmpty ? nil : grantTokens, "DryRun": dryRun ? true : nil,
        ]
    }
}

struct GetPublicKey: OperationCommand {
    static let configuration = CommandConfiguration(
        commandName: "get-public-key",
        abstract:
            "The public key of an asymmetric key (DER SubjectPublicKeyInfo, base64 in the output) and what it may be "
            + "used for."
    )
    static let method = KMSMethod.getPublicKey
    @OptionGroup var global: GlobalOptions
    @Option(help: "Key id, key ARN, alias name or alias ARN.") var keyId: String
    @Option(parsing: .upToNextOption, help: "Grant tokens.") var grantTokens: [String] = []

    func members() throws -> [String: Any?] {
        ["KeyId": keyId, "GrantTokens": grantTokens.isEmpty ? nil : grantTokens]
    }
}
