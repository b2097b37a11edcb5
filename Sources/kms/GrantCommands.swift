import ArgumentParser
import Foundation
import KMSProto
import KMSRPC

struct CreateGrant: OperationCommand {
    static let configuration = CommandConfiguration(
        commandName: "create-grant", abstract: "Give a principal narrow, revocable rights on a key.")
    static let method = KMSMethod.createGrant
    @OptionGroup var global: GlobalOptions
    @Option(help: "Key id or key ARN.") var keyId: String
    @Option(help: "Principal ARN the grant is for.") var granteePrincipal: String
    @Option(parsing: .upToNextOption, help: "Operations, e.g. Decrypt Encrypt GenerateDataKey.") var operations:
        [String]
    @Option(help: "Principal ARN allowed to retire the grant.") var retiringPrincipal: String?
    @Option(help: "Only with exactly this encryption context (k=v,k2=v2 or JSON).") var encryptionContextEquals: String?
    @Option(help: "Only with encryption contexts containing these pairs (k=v,k2=v2 or JSON).")
    var encryptionContextSubset: String?
    @Option(help: "A name that makes retries idempotent.") var name: String?
    @Option(
        help: ArgumentHelp(
            "Constraints as JSON, {\"EncryptionContextSubset\": {..}} or {\"EncryptionContextEquals\": {..}} (or "
                + "use the two options above)."))
    var constraints: String?
    @Option(parsing: .upToNextOption, help: "Grant tokens.") var grantTokens: [String] = []
    @Flag(help: "Check the request only.") var dryRun = false

    func members() throws -> [String: Any?] {
        var constraints: [String: Any] = [:]
        if let given = self.constraints {
            guard let object = try? JSONSerialization.jsonObject(with: Data(given.utf8)) as? [String: Any] else {
                throw ValidationError("--constraints must be a JSON object")
            }
            constraints = object
        }
        if let equals = try ArgumentValues.context(encryptionContextEquals, option: "--encryption-context-equals") {
            constraints["EncryptionContextEquals"] = equals
        }
        if let subset = try ArgumentValues.context(encryptionContextSubset, option: "--encryption-context-subset") {
            constraints["EncryptionContextSubset"] = subset
        }
        return [
            "KeyId": keyId, "GranteePrincipal": granteePrincipal, "Operations": operations,
            "RetiringPrincipal": retiringPrincipal,
            "Constraints": constraints.isEmpty ? nil : constraints, "Name": name, "DryRun": dryRun ? true : nil,
            "GrantTokens": grantTokens.isEmpty ? nil : grantTokens,
        ]
    }
}

struct ListGrants: PaginatedCommand {
    static let configuration = CommandConfiguration(commandName: "list-grants", abstract: "List a key's grants.")
    static let method = KMSMethod.listGrants
    @OptionGroup var global: GlobalOptions
    @OptionGroup var paging: PagingOptions
    @Option(help: "Key id or key ARN.") var keyId: String
    @Option(help: "Only this grant.") var grantId: String?
    @Option(help: "Only this grantee's grants.") var granteePrincipal: String?
    @Option(help: "Grants per page.") var limit: Int?
    @Option(help: "NextMarker of the previous page.") var marker: String?

    func members() throws -> [String: Any?] {
        ["KeyId": keyId, "GrantId": grantId, "GranteePrincipal": granteePrincipal, "Limit": limit, "Marker": marker]
    }
}

struct ListRetirableGrants: PaginatedCommand {
    static let configuration = CommandConfiguration(
        commandName: "list-retirable-grants", abstract: "List the grants a principal may retire.")
    static let method = KMSMethod.listRetirableGrants
    @OptionGroup var global: GlobalOptions
    @OptionGroup var paging: PagingOptions
    @Option(help: "The retiring principal's ARN.") var retiringPrincipal: String
    @Option(help: "Grants per page.") var limit: Int?
    @Option(help: "NextMarker of the previous page.") var marker: String?

    func members() throws -> [String: Any?] {
        ["RetiringPrincipal": retiringPrincipal, "Limit": limit, "Marker": marker]
    }
}

struct RetireGrant: OperationCommand {
    static let configuration = CommandConfiguration(
        commandName: "retire-grant", abstract: "Retire a grant, by its token or by key and grant id.")
    static let method = KMSMethod.retireGrant
    @OptionGroup var global: GlobalOptions
    @Option(help: "The grant token.") var grantToken: String?
    @Option(help: "Key id or key ARN (with --grant-id).") var keyId: String?
    @Option(help: "The grant id (with --key-id).") var grantId: String?
    @Flag(help: "Check the request only.") var dryRun = false

    func members() throws -> [String: Any?] {
        ["GrantToken": grantToken, "KeyId": keyId, "GrantId": grantId, "DryRun": dryRun ? true : nil]
    }
}

struct RevokeGrant: OperationCommand {
    static let configuration = CommandConfiguration(commandName: "revoke-grant", abstract: "Revoke a grant.")
    static let method = KMSMethod.revokeGrant
    @OptionGroup var global: GlobalOptions
    @Option(help: "Key id or key ARN.") var keyId: String
    @Option(help: "The grant id.") var grantId: String
    @Flag(help: "Check the request only.") var dryRun = false

    func members() throws -> [String: Any?] { ["KeyId": keyId, "GrantId": grantId, "DryRun": dryRun ? true : nil] }
}
