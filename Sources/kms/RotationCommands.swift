import ArgumentParser
import KMSProto
import KMSRPC

struct EnableKeyRotation: OperationCommand {
    static let configuration = CommandConfiguration(
        commandName: "enable-key-rotation", abstract: "Rotate a key automatically every period.")
    static let method = KMSMethod.enableKeyRotation
    @OptionGroup var global: GlobalOptions
    @Option(help: "Key id or key ARN.") var keyId: String
    @Option(help: "90..2560 days (default 365).") var rotationPeriodInDays: Int?

    func members() throws -> [String: Any?] { ["KeyId": keyId, "RotationPeriodInDays": rotationPeriodInDays] }
}

struct DisableKeyRotation: OperationCommand {
    static let configuration = CommandConfiguration(
        commandName: "disable-key-rotation", abstract: "Stop rotating a key automatically.")
    static let method = KMSMethod.disableKeyRotation
    @OptionGroup var global: GlobalOptions
    @Option(help: "Key id or key ARN.") var keyId: String

    func members() throws -> [String: Any?] { ["KeyId": keyId] }
}

struct GetKeyRotationStatus: OperationCommand {
    static let configuration = CommandConfiguration(
        commandName: "get-key-rotation-status", abstract: "Show whether and when a key rotates.")
    static let method = KMSMethod.getKeyRotationStatus
    @OptionGroup var global: GlobalOptions
    @Option(help: "Key id or key ARN.") var keyId: String

    func members() throws -> [String: Any?] { ["KeyId": keyId] }
}

struct RotateKeyOnDemand: OperationCommand {
    static let configuration = CommandConfiguration(
        commandName: "rotate-key-on-demand", abstract: "Rotate a key now (25 times per key at most).")
    static let method = KMSMethod.rotateKeyOnDemand
    @OptionGroup var global: GlobalOptions
    @Option(help: "Key id or key ARN.") var keyId: String

    func members() throws -> [String: Any?] { ["KeyId": keyId] }
}

struct ListKeyRotations: PaginatedCommand {
    static let configuration = CommandConfiguration(
        commandName: "list-key-rotations", abstract: "List a key's rotations, oldest first.")
    static let method = KMSMethod.listKeyRotations
    @OptionGroup var global: GlobalOptions
    @OptionGroup var paging: PagingOptions
    @Option(help: "Key id or key ARN.") var keyId: String
    @Option(help: "Rotations per page, 1..1000 (default 100).") var limit: Int?
    @Option(help: "NextMarker of the previous page.") var marker: String?
    @Option(help: "ALL_KEY_MATERIAL or ROTATIONS_ONLY (the default).") var includeKeyMaterial: String?

    func members() throws -> [String: Any?] {
        ["KeyId": keyId, "Limit": limit, "Marker": marker, "IncludeKeyMaterial": includeKeyMaterial]
    }
}

struct GetKeyLastUsage: OperationCommand {
    static let configuration = CommandConfiguration(
        commandName: "get-key-last-usage", abstract: "Show a key's last successful cryptographic operation.")
    static let method = KMSMethod.getKeyLastUsage
    @OptionGroup var global: GlobalOptions
    @Option(help: "Key id, key ARN, alias name or alias ARN.") var keyId: String

    func members() throws -> [String: Any?] { ["KeyId": keyId] }
}

struct TagResource: OperationCommand {
    static let configuration = CommandConfiguration(
        commandName: "tag-resource", abstract: "Add or replace tags of a key.")
    static let method = KMSMethod.tagResource
    @OptionGroup var global: GlobalOptions
    @Option(help: "Key id or key ARN.") var keyId: String
    @Option(parsing: .upToNextOption, help: "Tags as KEY=VALUE (the aws CLI's TagKey=K,TagValue=V also works).")
    var tags: [String]

    func members() throws -> [String: Any?] { ["KeyId": keyId, "Tags": try Self.parse(tags)] }

    static func parse(_ tags: [String]) throws -> [[String: String]] {
        try tags.map { text in
            if text.hasPrefix("TagKey="), let comma = text.firstIndex(of: ","), text[comma...].hasPrefix(",TagValue=") {
                return [
                    "TagKey": String(text[text.index(text.startIndex, offsetBy: 7)..<comma]),
                    "TagValue": String(text[text.index(comma, offsetBy: 10)...]),
                ]
            }
            guard let equals = text.firstIndex(of: "=") else {
                throw ValidationError("a tag is KEY=VALUE, not '\(text)'")
            }
            return ["TagKey": String(text[..<equals]), "TagValue": String(text[text.index(after: equals)...])]
        }
    }
}

struct UntagResource: OperationCommand {
    static let configuration = CommandConfiguration(commandName: "untag-resource", abstract: "Remove tags from a key.")
    static let method = KMSMethod.untagResource
    @OptionGroup var global: GlobalOptions
    @Option(help: "Key id or key ARN.") var keyId: String
    @Option(parsing: .upToNextOption, help: "The tag keys to remove.") var tagKeys: [String]

    func members() throws -> [String: Any?] { ["KeyId": keyId, "TagKeys": tagKeys] }
}

struct ListResourceTags: PaginatedCommand {
    static let configuration = CommandConfiguration(commandName: "list-resource-tags", abstract: "List a key's tags.")
    static let method = KMSMethod.listResourceTags
    @OptionGroup var global: GlobalOptions
    @OptionGroup var paging: PagingOptions
    @Option(help: "Key id or key ARN.") var keyId: String
    @Option(help: "Tags per page, 1..50 (default 50).") var limit: Int?
    @Option(help: "NextMarker of the previous page.") var marker: String?

    func members() throws -> [String: Any?] { ["KeyId": keyId, "Limit": limit, "Marker": marker] }
}
