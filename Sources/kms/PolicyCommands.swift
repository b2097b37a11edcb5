import ArgumentParser
import KMSProto
import KMSRPC

struct GetKeyPolicy: OperationCommand {
    static let configuration = CommandConfiguration(commandName: "get-key-policy", abstract: "Show a key's policy.")
    static let method = KMSMethod.getKeyPolicy
    @OptionGroup var global: GlobalOptions
    @Option(help: "Key id or key ARN.") var keyId: String
    @Option(help: "Always \"default\".") var policyName: String?

    func members() throws -> [String: Any?] { ["KeyId": keyId, "PolicyName": policyName] }
}

struct PutKeyPolicy: OperationCommand {
    static let configuration = CommandConfiguration(
        commandName: "put-key-policy",
        abstract: "Replace a key's policy.",
        discussion:
            "A policy under which you could not change the policy again is refused unless "
            + "--bypass-policy-lockout-safety-check is given."
    )
    static let method = KMSMethod.putKeyPolicy
    @OptionGroup var global: GlobalOptions
    @Option(help: "Key id or key ARN.") var keyId: String
    @Option(help: "The policy JSON, or file://PATH.") var policy: String
    @Option(help: "Always \"default\".") var policyName: String?
    @Flag(help: "Skip the lockout safety check.") var bypassPolicyLockoutSafetyCheck = false

    func members() throws -> [String: Any?] {
        [
            "KeyId": keyId, "PolicyName": policyName,
            "Policy": String(decoding: try ArgumentValues.blob(policy, option: "--policy"), as: UTF8.self),
            "BypassPolicyLockoutSafetyCheck": bypassPolicyLockoutSafetyCheck ? true : nil,
        ]
    }
}

struct ListKeyPolicies: PaginatedCommand {
    static let configuration = CommandConfiguration(
        commandName: "list-key-policies", abstract: "List a key's policy names (always \"default\").")
    static let method = KMSMethod.listKeyPolicies
    @OptionGroup var global: GlobalOptions
    @OptionGroup var paging: PagingOptions
    @Option(help: "Key id or key ARN.") var keyId: String
    @Option(help: "Names per page, 1..1000 (default 100).") var limit: Int?
    @Option(help: "NextMarker of the previous page.") var marker: String?

    func members() throws -> [String: Any?] { ["KeyId": keyId, "Limit": limit, "Marker": marker] }
}
