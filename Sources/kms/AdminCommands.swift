import ArgumentParser
import Foundation
import KMSClient
import KMSProto
import KMSRPC

/// `kms admin ...`: accounts, principals, access keys and identity policies (admin principals
/// only, but for get-caller-identity).
struct Admin: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "admin",
        abstract: "Manage accounts, principals, access keys and identity policies.",
        subcommands: [
            GetCallerIdentity.self, CreateAccount.self, ListAccounts.self,
            CreatePrincipal.self, ListPrincipals.self, DeletePrincipal.self,
            CreateAccessKey.self, ListAccessKeys.self, UpdateAccessKey.self, DeleteAccessKey.self,
            PutPrincipalPolicy.self, GetPrincipalPolicy.self, ListPrincipalPolicies.self, DeletePrincipalPolicy.self,
            Rewrap.self, CreateSealKey.self, OpenSealedCredentials.self,
        ]
    )
}

struct GetCallerIdentity: OperationCommand {
    static let configuration = CommandConfiguration(
        commandName: "get-caller-identity", abstract: "Show who these credentials are.")
    static let method = AdminMethod.getCallerIdentity
    @OptionGroup var global: GlobalOptions

    func members() throws -> [String: Any?] { [:] }
}

struct CreateAccount: OperationCommand {
    static let configuration = CommandConfiguration(
        commandName: "create-account", abstract: "Create an account and its root principal.")
    static let method = AdminMethod.createAccount
    @OptionGroup var global: GlobalOptions
    @Option(help: "12 digits (default: a random free one).") var accountId: String?
    @Option(help: "A name, 1..64 characters.") var name: String

    func members() throws -> [String: Any?] { ["AccountId": accountId, "Name": name] }
}

struct ListAccounts: OperationCommand {
    static let configuration = CommandConfiguration(commandName: "list-accounts", abstract: "List the accounts.")
    static let method = AdminMethod.listAccounts
    @OptionGroup var global: GlobalOptions

    func members() throws -> [String: Any?] { [:] }
}

struct CreatePrincipal: OperationCommand {
    static let configuration = CommandConfiguration(
        commandName: "create-principal", abstract: "Create a user or a role in an account.")
    static let method = AdminMethod.createPrincipal
    @OptionGroup var global: GlobalOptions
    @Option(help: "The account's 12 digits.") var accountId: String
    @Option(help: "user or role.") var type: String = "user"
    @Option(help: "1..64 of A-Z a-z 0-9 +=,.@_-") var name: String
    @Flag(help: "May call the admin service.") var admin = false

    func members() throws -> [String: Any?] { ["AccountId": accountId, "Type": type, "Name": name, "Admin": admin] }
}

struct ListPrincipals: OperationCommand {
    static let configuration = CommandConfiguration(
        commandName: "list-principals", abstract: "List an account's principals.")
    static let method = AdminMethod.listPrincipals
    @OptionGroup var global: GlobalOptions
    @Option(help: "The account's 12 digits.") var accountId: String

    func members() throws -> [String: Any?] { ["AccountId": accountId] }
}

struct DeletePrincipal: OperationCommand {
    static let configuration = CommandConfiguration(
        commandName: "delete-principal", abstract: "Delete a principal with its access keys and policies.")
    static let method = AdminMethod.deletePrincipal
    @OptionGroup var global: GlobalOptions
    @Option(help: "The principal's ARN.") var principalArn: String

    func members() throws -> [String: Any?] { ["PrincipalArn": principalArn] }
}

struct CreateAccessKey: OperationCommand {
    static let configuration = CommandConfiguration(
        commandName: "create-access-key",
        abstract: "Create an access key; its secret is shown once.",
        discussion:
            "Give --access-key-id and --secret-access-key together to import a fixed pair (test fixtures, migrations)."
    )
    static let method = AdminMethod.createAccessKey
    @OptionGroup var global: GlobalOptions
    @Option(help: "The principal's ARN.") var principalArn: String
    @Option(help: "An id to import: 16..128 of A-Z 0-9.") var accessKeyId: String?
    @Option(help: "The secret to import (file:// or - to keep it off the command line).") var secretAccessKey: String?

    func members() throws -> [String: Any?] {
        let secret = try secretAccessKey.map {
            String(decoding: try ArgumentValues.blob($0, option: "--secret-access-key"), as: UTF8.self)
        }
        return [
            "PrincipalArn": principalArn, "AccessKeyId": accessKeyId,
            "SecretAccessKey": secret?.trimmingCharacters(in: .newlines),
        ]
    }
}

struct ListAccessKeys: OperationCommand {
    static let configuration = CommandConfiguration(
        commandName: "list-access-keys", abstract: "List a principal's access keys.")
    static let method = AdminMethod.listAccessKeys
    @OptionGroup var global: GlobalOptions
    @Option(help: "The principal's ARN.") var principalArn: String

    func members() throws -> [String: Any?] { ["PrincipalArn": principalArn] }
}

struct UpdateAccessKey: OperationCommand {
    static let configuration = CommandConfiguration(
        commandName: "update-access-key", abstract: "Activate or deactivate an access key.")
    static let method = AdminMethod.updateAccessKey
    @OptionGroup var global: GlobalOptions
    @Option(help: "The access key id.") var accessKeyId: String
    @Option(help: "Active or Inactive.") var status: String

    func members() throws -> [String: Any?] { ["AccessKeyId": accessKeyId, "Status": status] }
}

struct DeleteAccessKey: OperationCommand {
    static let configuration = CommandConfiguration(commandName: "delete-access-key", abstract: "Delete an access key.")
    static let method = AdminMethod.deleteAccessKey
    @OptionGroup var global: GlobalOptions
    @Option(help: "The access key id.") var accessKeyId: String

    func members() throws -> [String: Any?] { ["AccessKeyId": accessKeyId] }
}

struct PutPrincipalPolicy: OperationCommand {
    static let configuration = CommandConfiguration(
        commandName: "put-principal-policy", abstract: "Attach (or replace) a named identity policy.")
    static let method = AdminMethod.putPrincipalPolicy
    @OptionGroup var global: GlobalOptions
    @Option(help: "The principal's ARN.") var principalArn: String
    @Option(help: "The policy's name.") var policyName: String
    @Option(help: "The policy JSON, or file://PATH.") var policyDocument: String

    func members() throws -> [String: Any?] {
        [
            "PrincipalArn": principalArn, "PolicyName": policyName,
            "PolicyDocument": String(
                decoding: try ArgumentValues.blob(policyDocument, option: "--policy-document"), as: UTF8.self),
        ]
    }
}

struct GetPrincipalPolicy: OperationCommand {
    static let configuration = CommandConfiguration(
        commandName: "get-principal-policy", abstract: "Show a named identity policy.")
    static let method = AdminMethod.getPrincipalPolicy
    @OptionGroup var global: GlobalOptions
    @Option(help: "The principal's ARN.") var principalArn: String
    @Option(help: "The policy's name.") var policyName: String

    func members() throws -> [String: Any?] { ["PrincipalArn": principalArn, "PolicyName": policyName] }
}

struct ListPrincipalPolicies: OperationCommand {
    static let configuration = CommandConfiguration(
        commandName: "list-principal-policies", abstract: "List a principal's identity policies.")
    static let method = AdminMethod.listPrincipalPolicies
    @OptionGroup var global: GlobalOptions
    @Option(help: "The principal's ARN.") var principalArn: String

    func members() throws -> [String: Any?] { ["PrincipalArn": principalArn] }
}

struct DeletePrincipalPolicy: OperationCommand {
    static let configuration = CommandConfiguration(
        commandName: "delete-principal-policy", abstract: "Detach a named identity policy.")
    static let method = AdminMethod.deletePrincipalPolicy
    @OptionGroup var global: GlobalOptions
    @Option(help: "The principal's ARN.") var principalArn: String
    @Option(help: "The policy's name.") var policyName: String

    func members() throws -> [String: Any?] { ["PrincipalArn": principalArn, "PolicyName": policyName] }
}

/// `kms admin rewrap`: starts the root key re-wrap and follows it with a progress line, or
/// with --status shows where it stands.
struct Rewrap: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rewrap",
        abstract: "Re-wrap every stored key material and access key secret under the newest root key.",
        discussion: """
            After `kms-cryptod rotate-root-key` and a SIGHUP to kms-cryptod. The job runs inside \\
            kmsd while traffic continues and resumes after a crash. Once --status shows nothing \\
            under an old root key, `kms-cryptod retire-root-key` can remove it.
            """
    )

    @OptionGroup var global: GlobalOptions
    @Flag(help: "Only show the job's state and what each root key still wraps.") var status = false
    @Flag(help: "Start the job and return at once.") var noWait = false

    func run() async throws {
        let client = try self.global.makeClient()
        defer { Task { await client.close() } }
        do {
            if !self.status {
                let started = try await client.call(AdminMethod.startRewrap, AdminStartRewrapRequest())
                FileHandle.standardError.write(
                    Data("re-wrap job \(started.jobID) \(started.started ? "started" : "already running")\n".utf8))
                if !self.noWait { try await self.follow(client) }
            }
            let final = try await client.call(AdminMethod.getRewrapStatus, AdminGetRewrapStatusRequest())
            print(Output.render(try OrderedJSON(final), format: self.global.output))
        } catch let error as KMSClientError {
            FileHandle.standardError.write(
                Data("An error occurred (\(error.code)) when calling the rewrap operation: \(error.message)\n".utf8))
            throw ExitCode(254)
        }
    }

    /// A progress line on stderr until the job finishes.
    private func follow(_ client: KMSClient) async throws {
        var total: Int64?
        while true {
            let status = try await client.call(AdminMethod.getRewrapStatus, AdminGetRewrapStatusRequest())
            let remaining = status.rootKeys.filter { !$0.newest && $0.inKeyring }.reduce(Int64(0)) {
                $0 + $1.keyMaterials + $1.accessKeySecrets
            }
            let all = total ?? (remaining + status.rewrapped)
            total = all
            let done = max(0, all - remaining)
            let width = 30
            let filled = all == 0 ? width : Int(Double(done) / Double(all) * Double(width))
            let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
            FileHandle.standardError.write(
                Data("\r[\(bar)] \(done)/\(all) re-wrapped, \(status.unavailable) unavailable  ".utf8))
            if status.state != "Running" {
                FileHandle.standardError.write(Data("\n".utf8))
                return
            }
            try await Task.sleep(for: .milliseconds(500))
        }
    }
}
