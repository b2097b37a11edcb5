import Foundation
import KMSDomain
import KMSStore
import Logging
import PostgresNIO

/// The first admin of a fresh deployment: the default account, a user with admin rights and an
/// identity policy allowing kms:*, and one access key whose secret is returned once.
public enum Bootstrap {
    /// The first admin's credentials, to be shown once: the secret is stored only wrapped.
    public struct Credentials: Sendable {
        /// The admin user's principal ARN.
        public let principalARN: String
        /// The access key id to sign with.
        public let accessKeyID: String
        /// The secret access key; nothing can show it again.
        public let secretAccessKey: String
    }

    static let adminPolicy = """
        {"Version":"2012-10-17","Statement":[{"Sid":"AdministerKMS","Effect":"Allow","Action":"kms:*","Resource":"*"}]}
        """

    /// Nil when an admin with an access key exists already: the bootstrap runs once per database.
    public static func run(
        client: PostgresClient, scope: ServiceScope, workerSocket: String, adminName: String, logger: Logger
    ) async throws -> Credentials? {
        try PrincipalRecord.checkName(adminName, field: "the admin name")
        try await Migrations.apply(on: client, logger: logger)
        let identities = IdentityStore(client: client, logger: logger)
        guard try await !identities.hasAdminWithAccessKey() else { return nil }
        let now = Date(timeIntervalSince1970: Date().timeIntervalSince1970.rounded(.down))
        let account = scope.defaultAccount
        if try await identities.account(account) == nil {
            _ = try await identities.insertAccount(
                AccountRecord(accountID: account, name: "default", creationDate: now),
                root: PrincipalRecord(
                    arn: PrincipalRecord.arn(partition: scope.partition, account: account, kind: .root, name: "root"),
                    accountID: account, kind: .root, name: "root", isAdmin: false, creationDate: now
                ),
                audit: nil
            )
        }
        let admin = PrincipalRecord(
            arn: PrincipalRecord.arn(partition: scope.partition, account: account, kind: .user, name: adminName),
            accountID: account, kind: .user, name: adminName, isAdmin: true, creationDate: now
        )
        // Re-runnable: a bootstrap that stopped after creating the principal finishes the job.
        if try await !identities.insertPrincipal(admin, audit: nil) {
            guard try await identities.principal(admin.arn)?.isAdmin == true else {
                throw KMSError(.alreadyExists, "Principal \(admin.arn) already exists but is not an admin.")
            }
        }
        _ = try await identities.putPolicy(
            IdentityPolicyRecord(principalARN: admin.arn, name: "AdministerKMS", document: adminPolicy), audit: nil)
        let worker = try WorkerPool(socketPath: workerSocket, connections: 1, logger: logger)
        defer { Task { await worker.close() } }
        let (key, secret) = try await KMSService.createAccessKey(
            for: admin, id: nil, secret: nil, identities: identities, worker: worker, now: now, audit: nil,
            logger: logger,
            metrics: ServiceMetrics()
        )
        logger.notice(
            "bootstrapped the first admin",
            metadata: ["principal": "\(admin.arn)", "access_key_id": "\(key.accessKeyID)"])
        return Credentials(principalARN: admin.arn, accessKeyID: key.accessKeyID, secretAccessKey: secret)
    }
}
