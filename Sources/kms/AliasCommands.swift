import ArgumentParser
import KMSProto
import KMSRPC

struct CreateAlias: OperationCommand {
    static let configuration = CommandConfiguration(commandName: "create-alias", abstract: "Name a key: alias/NAME.")
    static let method = KMSMethod.createAlias
    @OptionGroup var global: GlobalOptions
    @Option(help: "alias/ followed by letters, digits, /, _ or -.") var aliasName: String
    @Option(help: "Key id or key ARN.") var targetKeyId: String

    func members() throws -> [String: Any?] { ["AliasName": aliasName, "TargetKeyId": targetKeyId] }
}

struct UpdateAlias: OperationCommand {
    static let configuration = CommandConfiguration(
        commandName: "update-alias", abstract: "Point an alias at another key of the same type.")
    static let method = KMSMethod.updateAlias
    @OptionGroup var global: GlobalOptions
    @Option(help: "The alias.") var aliasName: String
    @Option(help: "Key id or key ARN.") var targetKeyId: String

    func members() throws -> [String: Any?] { ["AliasName": aliasName, "TargetKeyId": targetKeyId] }
}

struct DeleteAlias: OperationCommand {
    static let configuration = CommandConfiguration(
        commandName: "delete-alias", abstract: "Delete an alias (not its key).")
    static let method = KMSMethod.deleteAlias
    @OptionGroup var global: GlobalOptions
    @Option(help: "The alias.") var aliasName: String

    func members() throws -> [String: Any?] { ["AliasName": aliasName] }
}

struct ListAliases: PaginatedCommand {
    static let configuration = CommandConfiguration(
        commandName: "list-aliases", abstract: "List aliases, of the account or of one key.")
    static let method = KMSMethod.listAliases
    @OptionGroup var global: GlobalOptions
    @OptionGroup var paging: PagingOptions
    @Option(help: "Only this key's aliases (key id or key ARN).") var keyId: String?
    @Option(help: "Aliases per page, 1..100 (default 50).") var limit: Int?
    @Option(help: "NextMarker of the previous page.") var marker: String?

    func members() throws -> [String: Any?] { ["KeyId": keyId, "Limit": limit, "Marker": marker] }
}
