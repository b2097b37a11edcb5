import ArgumentParser
import Foundation
import KMSDomain
import KMSRPC
import KMSServer
import KMSStore

/// `kmsd bootstrap`: the first admin of a new database, whose secret is printed once.
struct BootstrapCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bootstrap",
        abstract: "Create the default account's first admin and print its access key, once.",
        discussion: """
            Applies the migrations, then, unless some admin exists already, creates the account \
            (--account), the user arn:aws:iam::<account>:user/<admin-name> with admin rights and an \
            identity policy allowing kms:*, and one access key. The secret is printed on stdout \
            as an aws credentials-file profile and is not kept anywhere in plaintext: store it now. \
            With --seal-to (KMSD_BOOTSTRAP_SEAL_TO), the profile is sealed to an operator's P-256 \
            public key (HPKE) and only the sealed block is printed: for logs that are kept, such as a \
            Kubernetes Job's (kms admin create-seal-key makes the pair, kms admin \
            open-sealed-credentials opens it). When an admin exists, prints nothing on stdout and \
            exits 0. Reads KMSD_DATABASE_URL(_FILE), KMSD_WORKER_SOCKET, KMSD_ACCOUNT and \
            KMSD_PARTITION like `kmsd serve`.
            """
    )

    @Option(name: .customLong("database-url"), help: "postgres://..., no password (KMSD_DATABASE_URL).")
    var databaseURL: String?
    @Option(name: .customLong("database-url-file"), help: "A file holding the URL (KMSD_DATABASE_URL_FILE).")
    var databaseURLFile: String?
    @Option(help: "kms-cryptod's Unix socket (KMSD_WORKER_SOCKET).") var workerSocket: String?
    @Option(help: "The 12-digit account (KMSD_ACCOUNT). Default 111122223333.") var account: String?
    @Option(help: "ARN partition (KMSD_PARTITION). Default aws.") var partition: String?
    @Option(help: "The admin user's name.") var adminName = "admin"
    @Option(help: "The profile name printed.") var profile = "default"
    @Option(help: "Seal the printed profile to this P-256 public key (PEM file) (KMSD_BOOTSTRAP_SEAL_TO).")
    var sealTo: String?

    func run() async throws {
        guard let databaseURL = try DatabaseURLSetting.resolve(flag: self.databaseURL, flagFile: self.databaseURLFile)
        else {
            throw ValidationError(DatabaseURLSetting.missing)
        }
        guard let workerSocket = self.workerSocket ?? environment("WORKER_SOCKET") else {
            throw ValidationError("kms-cryptod's socket is required: --worker-socket or KMSD_WORKER_SOCKET")
        }
        let account = self.account ?? environment("ACCOUNT") ?? "111122223333"
        guard AccountRecord.isValidID(account) else {
            throw ValidationError("the account must be 12 digits, not '\(account)'")
        }
        let partition = self.partition ?? environment("PARTITION") ?? "aws"
        let scope = ServiceScope(partition: partition, regions: [], defaultRegion: "us-east-1", defaultAccount: account)
        // The recipient is read before anything is created: a wrong key must not cost the one
        // showing of the secret.
        let recipient = try (self.sealTo ?? environment("BOOTSTRAP_SEAL_TO")).map { path in
            do {
                let pem = try String(contentsOfFile: path, encoding: .utf8)
                _ = try SealedCredentials.seal("", toPublicKeyPEM: pem)
                return pem
            } catch {
                throw ValidationError("--seal-to \(path): \(error)")
            }
        }
        let adminName = self.adminName
        let credentials = try await withDatabase(url: databaseURL, label: "kmsd.bootstrap") { client, logger in
            try await Bootstrap.run(
                client: client, scope: scope, workerSocket: workerSocket, adminName: adminName, logger: logger)
        }
        guard let credentials else {
            FileHandle.standardError.write(Data("kmsd bootstrap: an admin exists already; nothing to do\n".utf8))
            return
        }
        let profile = """
            # \(credentials.principalARN): shown once, store it now.
            [\(self.profile)]
            aws_access_key_id = \(credentials.accessKeyID)
            aws_secret_access_key = \(credentials.secretAccessKey)

            """
        guard let recipient else { return print(profile, terminator: "") }
        print("# \(credentials.principalARN): sealed; open with kms admin open-sealed-credentials")
        print(try SealedCredentials.seal(profile, toPublicKeyPEM: recipient), terminator: "")
    }
}
