import ArgumentParser
import Foundation
import KMSProto
import KMSRPC

struct GetParametersForImport: OperationCommand {
    static let configuration = CommandConfiguration(
        commandName: "get-parameters-for-import",
        abstract: "A wrapping public key and an import token for bringing key material to an EXTERNAL key.",
        discussion:
            "Encrypt the key material under PublicKey with the wrapping algorithm, then call import-key-material "
            + "with the token before ParametersValidTo."
    )
    static let method = KMSMethod.getParametersForImport
    @OptionGroup var global: GlobalOptions
    @Option(help: "Key id or key ARN of a key created with --origin EXTERNAL.") var keyId: String
    @Option(
        help:
            ArgumentHelp(
                "RSAES_OAEP_SHA_256, RSAES_OAEP_SHA_1, RSA_AES_KEY_WRAP_SHA_256 or RSA_AES_KEY_WRAP_SHA_1 "
                    + "(RSAES_PKCS1_V1_5 is refused, as AWS now does).")
    ) var wrappingAlgorithm: String
    @Option(help: "RSA_2048, RSA_3072 or RSA_4096.") var wrappingKeySpec: String

    func members() throws -> [String: Any?] {
        ["KeyId": keyId, "WrappingAlgorithm": wrappingAlgorithm, "WrappingKeySpec": wrappingKeySpec]
    }
}

struct ImportKeyMaterial: OperationCommand {
    static let configuration = CommandConfiguration(
        commandName: "import-key-material",
        abstract:
            "Import key material, wrapped under the public key of get-parameters-for-import, into an EXTERNAL key."
    )
    static let method = KMSMethod.importKeyMaterial
    @OptionGroup var global: GlobalOptions
    @Option(help: "Key id or key ARN; the key the import token was made for.") var keyId: String
    @Option(help: "fileb://PATH (the raw ImportToken), or - for standard input.") var importToken: String
    @Option(help: "fileb://PATH (the wrapped key material), or - for standard input.") var encryptedKeyMaterial: String
    @Option(
        help:
            ArgumentHelp(
                "When the material expires: ISO 8601 (2027-01-31T00:00:00Z; no zone means UTC) or epoch seconds. Needs "
                    + "KEY_MATERIAL_EXPIRES.")
    ) var validTo: String?
    @Option(help: "KEY_MATERIAL_EXPIRES (the default; give --valid-to) or KEY_MATERIAL_DOES_NOT_EXPIRE.")
    var expirationModel: String?
    @Option(help: "NEW_KEY_MATERIAL or EXISTING_KEY_MATERIAL (reimport).") var importType: String?
    @Option(help: "A description of this key material.") var keyMaterialDescription: String?
    @Option(help: "Reimport: the id of the key material being reimported.") var keyMaterialId: String?

    func members() throws -> [String: Any?] {
        [
            "KeyId": keyId,
            "ImportToken": try ArgumentValues.blob(importToken, option: "--import-token").base64EncodedString(),
            "EncryptedKeyMaterial": try ArgumentValues.blob(encryptedKeyMaterial, option: "--encrypted-key-material")
                .base64EncodedString(),
            "ValidTo": try validTo.map { try ArgumentValues.timestamp($0, option: "--valid-to") },
            "ExpirationModel": expirationModel, "ImportType": importType,
            "KeyMaterialDescription": keyMaterialDescription, "KeyMaterialId": keyMaterialId,
        ]
    }
}

struct DeleteImportedKeyMaterial: OperationCommand {
    static let configuration = CommandConfiguration(
        commandName: "delete-imported-key-material",
        abstract: "Delete imported key material: the key becomes PendingImport until the material is imported again."
    )
    static let method = KMSMethod.deleteImportedKeyMaterial
    @OptionGroup var global: GlobalOptions
    @Option(help: "Key id or key ARN.") var keyId: String
    @Option(help: "The key material to delete (default: the current one).") var keyMaterialId: String?

    func members() throws -> [String: Any?] { ["KeyId": keyId, "KeyMaterialId": keyMaterialId] }
}
