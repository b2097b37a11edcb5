import ArgumentParser
import KMSProto
import KMSRPC

struct ReplicateKey: OperationCommand {
    static let configuration = CommandConfiguration(
        commandName: "replicate-key",
        abstract: "Replicate a multi-Region primary key into another region this service serves.",
        discussion:
            "The replica has the key's id and every version of its material, and its own policy, description, "
            + "tags, aliases, grants and state. Needs kms:ReplicateKey on the primary and kms:CreateKey (and "
            + "kms:TagResource for --tags) in the replica's region.")
    static let method = KMSMethod.replicateKey
    @OptionGroup var global: GlobalOptions
    @Option(help: "Key id or key ARN of the multi-Region primary key.") var keyId: String
    @Option(help: "The region of the new replica, e.g. eu-west-1.") var replicaRegion: String
    @Option(help: "The replica's key policy, a JSON document (file://PATH reads it from a file); default: the default.")
    var policy: String?
    @Flag(help: "Skip the check that the policy does not lock the caller out.") var bypassPolicyLockoutSafetyCheck =
        false
    @Option(help: "The replica's description.") var description: String?
    @Option(parsing: .upToNextOption, help: "The replica's tags as KEY=VALUE.") var tags: [String] = []

    func members() throws -> [String: Any?] {
        [
            "KeyId": keyId, "ReplicaRegion": replicaRegion, "Description": description,
            "Tags": tags.isEmpty ? nil : try TagResource.parse(tags),
            "Policy": try policy.map {
                String(decoding: try ArgumentValues.blob($0, option: "--policy"), as: UTF8.self)
            },
            "BypassPolicyLockoutSafetyCheck": bypassPolicyLockoutSafetyCheck ? true : nil,
        ]
    }
}

struct UpdatePrimaryRegion: OperationCommand {
    static let configuration = CommandConfiguration(
        commandName: "update-primary-region",
        abstract:
            "Make the replica of a multi-Region key in another region its primary (the primary becomes a replica).")
    static let method = KMSMethod.updatePrimaryRegion
    @OptionGroup var global: GlobalOptions
    @Option(help: "Key id or key ARN of the current primary key.") var keyId: String
    @Option(help: "The region of the replica that becomes the primary.") var primaryRegion: String

    func members() throws -> [String: Any?] { ["KeyId": keyId, "PrimaryRegion": primaryRegion] }
}
