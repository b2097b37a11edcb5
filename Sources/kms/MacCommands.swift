import ArgumentParser
import Foundation
import KMSProto
import KMSRPC

struct GenerateMac: OperationCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate-mac",
        abstract: "An HMAC of a message (up to 4096 bytes) under a GENERATE_VERIFY_MAC key.")
    static let method = KMSMethod.generateMac
    @OptionGroup var global: GlobalOptions
    @Option(help: "Key id, key ARN, alias name or alias ARN.") var keyId: String
    @Option(help: "fileb://PATH, file://PATH, - for standard input, or a literal string.") var message: String
    @Option(help: "HMAC_SHA_224, HMAC_SHA_256, HMAC_SHA_384 or HMAC_SHA_512, as the key spec says.") var macAlgorithm:
        String
    @Option(parsing: .upToNextOption, help: "Grant tokens.") var grantTokens: [String] = []
    @Flag(help: "Check the request without computing the MAC.") var dryRun = false

    func members() throws -> [String: Any?] {
        [
            "KeyId": keyId, "Message": try ArgumentValues.blob(message, option: "--message").base64EncodedString(),
            "MacAlgorithm": macAlgorithm, "GrantTokens": grantTokens.isEmpty ? nil : grantTokens,
            "DryRun": dryRun ? true : nil,
        ]
    }
}

struct VerifyMac: OperationCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify-mac",
        abstract: "Check an HMAC made by generate-mac; one that does not match fails with KMSInvalidMacException."
    )
    static let method = KMSMethod.verifyMac
    @OptionGroup var global: GlobalOptions
    @Option(help: "Key id, key ARN, alias name or alias ARN.") var keyId: String
    @Option(help: "The message, as given to generate-mac: fileb://PATH, file://PATH, - or a literal string.")
    var message: String
    @Option(help: "The algorithm the MAC was made with.") var macAlgorithm: String
    @Option(help: "fileb://PATH (the raw MAC), or - for standard input.") var mac: String
    @Option(parsing: .upToNextOption, help: "Grant tokens.") var grantTokens: [String] = []
    @Flag(help: "Check the request without verifying.") var dryRun = false

    func members() throws -> [String: Any?] {
        [
            "KeyId": keyId, "Message": try ArgumentValues.blob(message, option: "--message").base64EncodedString(),
            "MacAlgorithm": macAlgorithm, "Mac": try ArgumentValues.blob(mac, option: "--mac").base64EncodedString(),
            "GrantTokens": grantTokens.isEmpty ? nil : grantTokens, "DryRun": dryRun ? true : nil,
        ]
    }
}
