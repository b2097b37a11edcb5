import ArgumentParser
import Foundation
import KMSProto
import KMSRPC

struct Encrypt: OperationCommand {
    static let configuration = CommandConfiguration(abstract: "Encrypt up to 4096 bytes under a key.")
    static let method = KMSMethod.encrypt
    @OptionGroup var global: GlobalOptions
    @Option(help: "Key id, key ARN, alias name or alias ARN.") var keyId: String
    @Option(help: "fileb://PATH, file://PATH, - for standard input, or a literal string.") var plaintext: String
    @Option(help: "k=v,k2=v2 or a JSON object; needed again to decrypt.") var encryptionContext: String?
    @Option(help: "SYMMETRIC_DEFAULT.") var encryptionAlgorithm: String?
    @Option(parsing: .upToNextOption, help: "Grant tokens.") var grantTokens: [String] = []
    @Flag(help: "Check the request without encrypting.") var dryRun = false

    func members() throws -> [String: Any?] {
        [
            "KeyId": keyId,
            "Plaintext": try ArgumentValues.blob(plaintext, option: "--plaintext").base64EncodedString(),
            "EncryptionContext": try ArgumentValues.context(encryptionContext, option: "--encryption-context"),
            "EncryptionAlgorithm": encryptionAlgorithm, "GrantTokens": grantTokens.isEmpty ? nil : grantTokens,
            "DryRun": dryRun ? true : nil,
        ]
    }
}

struct Decrypt: OperationCommand {
    static let configuration = CommandConfiguration(abstract: "Decrypt a ciphertext blob; the blob names its key.")
    static let method = KMSMethod.decrypt
    @OptionGroup var global: GlobalOptions
    @Option(help: "fileb://PATH (the raw blob), or - for standard input.") var ciphertextBlob: String
    @Option(help: "The context given at encryption.") var encryptionContext: String?
    @Option(help: "Optional: fail unless the blob is under this key.") var keyId: String?
    @Option(help: "SYMMETRIC_DEFAULT.") var encryptionAlgorithm: String?
    @Option(parsing: .upToNextOption, help: "Grant tokens.") var grantTokens: [String] = []
    @Flag(help: "Check the request without decrypting.") var dryRun = false
    @Option(parsing: .upToNextOption, help: "With --dry-run: IGNORE_CIPHERTEXT.") var dryRunModifiers: [String] = []
    @Option(help: "A Nitro enclave: KeyEncryptionAlgorithm=RSAES_OAEP_SHA_256,AttestationDocument=fileb://PATH.")
    var recipient: String?

    func members() throws -> [String: Any?] {
        [
            "CiphertextBlob": try ArgumentValues.blob(ciphertextBlob, option: "--ciphertext-blob")
                .base64EncodedString(),
            "EncryptionContext": try ArgumentValues.context(encryptionContext, option: "--encryption-context"),
            "KeyId": keyId, "EncryptionAlgorithm": encryptionAlgorithm,
            "GrantTokens": grantTokens.isEmpty ? nil : grantTokens, "DryRun": dryRun ? true : nil,
            "DryRunModifiers": dryRunModifiers.isEmpty ? nil : dryRunModifiers,
            "Recipient": try ArgumentValues.recipient(recipient, option: "--recipient"),
        ]
    }
}

struct ReEncrypt: OperationCommand {
    static let configuration = CommandConfiguration(
        commandName: "re-encrypt", abstract: "Decrypt and encrypt again under another key, inside the service.")
    static let method = KMSMethod.reEncrypt
    @OptionGroup var global: GlobalOptions
    @Option(help: "fileb://PATH or - for standard input.") var ciphertextBlob: String
    @Option(help: "The key to encrypt under.") var destinationKeyId: String
    @Option(help: "The context of the ciphertext.") var sourceEncryptionContext: String?
    @Option(help: "The context for the new ciphertext.") var destinationEncryptionContext: String?
    @Option(help: "Optional: fail unless the blob is under this key.") var sourceKeyId: String?
    @Option(help: "The algorithm the ciphertext was made with.") var sourceEncryptionAlgorithm: String?
    @Option(help: "The algorithm for the new ciphertext.") var destinationEncryptionAlgorithm: String?
    @Option(parsing: .upToNextOption, help: "Grant tokens.") var grantTokens: [String] = []
    @Flag(help: "Check the request only.") var dryRun = false
    @Option(parsing: .upToNextOption, help: "With --dry-run: IGNORE_CIPHERTEXT.") var dryRunModifiers: [String] = []

    func members() throws -> [String: Any?] {
        [
            "CiphertextBlob": try ArgumentValues.blob(ciphertextBlob, option: "--ciphertext-blob")
                .base64EncodedString(),
            "DestinationKeyId": destinationKeyId, "SourceKeyId": sourceKeyId,
            "SourceEncryptionContext": try ArgumentValues.context(
                sourceEncryptionContext, option: "--source-encryption-context"),
            "DestinationEncryptionContext": try ArgumentValues.context(
                destinationEncryptionContext, option: "--destination-encryption-context"),
            "SourceEncryptionAlgorithm": sourceEncryptionAlgorithm,
            "DestinationEncryptionAlgorithm": destinationEncryptionAlgorithm,
            "GrantTokens": grantTokens.isEmpty ? nil : grantTokens, "DryRun": dryRun ? true : nil,
            "DryRunModifiers": dryRunModifiers.isEmpty ? nil : dryRunModifiers,
        ]
    }
}

/// The options GenerateDataKey and GenerateDataKeyWithoutPlaintext share.
struct DataKeyOptions: ParsableArguments {
    @Option(help: "Key id, key ARN, alias name or alias ARN.") var keyId: String
    @Option(help: "AES_256 or AES_128 (or give --number-of-bytes).") var keySpec: String?
    @Option(help: "1..1024 (or give --key-spec).") var numberOfBytes: Int?
    @Option(help: "k=v,k2=v2 or a JSON object.") var encryptionContext: String?
    @Option(parsing: .upToNextOption, help: "Grant tokens.") var grantTokens: [String] = []
    @Flag(help: "Check the request only.") var dryRun = false

    func members() throws -> [String: Any?] {
        [
            "KeyId": keyId, "KeySpec": keySpec, "NumberOfBytes": numberOfBytes,
            "EncryptionContext": try ArgumentValues.context(encryptionContext, option: "--encryption-context"),
            "GrantTokens": grantTokens.isEmpty ? nil : grantTokens, "DryRun": dryRun ? true : nil,
        ]
    }
}

struct GenerateDataKey: OperationCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate-data-key", abstract: "Make a data key: its plaintext and its blob under a KMS key.")
    static let method = KMSMethod.generateDataKey
    @OptionGroup var global: GlobalOptions
    @OptionGroup var dataKey: DataKeyOptions
    @Option(help: "A Nitro enclave: KeyEncryptionAlgorithm=RSAES_OAEP_SHA_256,AttestationDocument=fileb://PATH.")
    var recipient: String?

    func members() throws -> [String: Any?] {
        try dataKey.members().merging(["Recipient": try ArgumentValues.recipient(recipient, option: "--recipient")]) {
            $1
        }
    }
}

struct GenerateDataKeyWithoutPlaintext: OperationCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate-data-key-without-plaintext", abstract: "Make a data key and return only its blob.")
    static let method = KMSMethod.generateDataKeyWithoutPlaintext
    @OptionGroup var global: GlobalOptions
    @OptionGroup var dataKey: DataKeyOptions

    func members() throws -> [String: Any?] { try dataKey.members() }
}

struct GenerateRandom: OperationCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate-random", abstract: "Random bytes from the service.")
    static let method = KMSMethod.generateRandom
    @OptionGroup var global: GlobalOptions
    @Option(help: "1..1024.") var numberOfBytes: Int
    @Option(help: "An AWS_CLOUDHSM custom key store (cks-...): the bytes come from its token.")
    var customKeyStoreId: String?
    @Option(help: "A Nitro enclave: KeyEncryptionAlgorithm=RSAES_OAEP_SHA_256,AttestationDocument=fileb://PATH.")
    var recipient: String?

    func members() throws -> [String: Any?] {
        [
            "NumberOfBytes": numberOfBytes, "CustomKeyStoreId": customKeyStoreId,
            "Recipient": try ArgumentValues.recipient(recipient, option: "--recipient"),
        ]
    }
}
