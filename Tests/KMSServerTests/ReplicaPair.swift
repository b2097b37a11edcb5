import Foundation
import KMSClient
import KMSProto
import KMSTestSupport

/// Two kmsd replicas, each with its own kms-cryptod (copies of one keyring file) on a host of
/// its own (a network namespace behind a veth pair), both on one test database.
///
/// kmsd inside a namespace cannot reach the test PostgreSQL, which listens on the host's
/// 127.0.0.1 (a namespace has a loopback of its own). Each namespace gets a `FaultProxy` in
/// the host namespace listening on that namespace's host-side veth address, forwarding to the
/// server: nothing about the shared server changes (listen_addresses, pg_hba), it works with
/// whatever server KMS_TEST_DATABASE_URL names, and nothing is exposed beyond the veth link.
/// The Unix socket to kms-cryptod needs nothing: it is a file path, which namespaces share.
///
/// Built up step by step, so that `stop()` removes whatever a failed start left behind.
final class ReplicaPair: @unchecked Sendable {
    var namespaces: [NetworkNamespace] = []
    var database: TestDatabase?
    var proxies: [FaultProxy] = []
    var workers: [WorkerProcess] = []
    var kmsds: [KMSDProcess] = []
    var adminCredentials = KMSCredentials(accessKeyID: "", secretAccessKey: "")

    /// Names the replicas in messages.
    static let names = ["A", "B"]

    /// Starts both replicas with `kmsdArguments` besides their own listen address, audit chain
    /// (a host of its own, as each replica's host name would give it) and database URL.
    func start(kmsdArguments: [String]) async throws {
        await NetworkNamespace.removeStale()
        let database = try await TestDatabase.create()
        self.database = database
        let (host, port) = database.hostAndPort
        for index in 0..<2 {
            let namespace = try await NetworkNamespace.create()
            self.namespaces.append(namespace)
            self.proxies.append(
                try await FaultProxy.tcp(listeningOn: namespace.hostAddress, to: host, port: port, seed: UInt64(index)))
            let worker = try await WorkerProcess(keyring: self.workers.first?.keyringPath)
            self.workers.append(worker)
            try await worker.start(launcher: namespace.launcher)
        }
        self.adminCredentials = try await KMSDProcess.bootstrap(
            databaseURL: database.url, workerSocket: self.workers[0].socketPath)
        for index in 0..<2 {
            var url = URLComponents(string: database.url)!
            url.host = self.namespaces[index].hostAddress
            url.port = self.proxies[index].port
            let kmsd = KMSDProcess(
                databaseURL: url.string!, workerSocket: self.workers[index].socketPath,
                directory: self.workers[index].directory,
                extraArguments: ["--audit-chain", "replica-\(Self.names[index])"] + kmsdArguments)
            kmsd.launcher = self.namespaces[index].launcher
            self.kmsds.append(kmsd)
            try await kmsd.start(listen: "\(self.namespaces[index].address):0")
        }
    }

    /// A client of replica `index` alone, trying each call once (`RoundRobinClient` retries).
    func client(_ index: Int, _ credentials: KMSCredentials? = nil, attempts: Int = 1) throws -> KMSClient {
        try self.kmsds[index].client(credentials: credentials ?? self.adminCredentials) {
            $0.maxAttempts = attempts
        }
    }

    /// A round-robin client over both replicas.
    func roundRobin(_ credentials: KMSCredentials? = nil) throws -> RoundRobinClient {
        RoundRobinClient(try (0..<self.kmsds.count).map { try self.client($0, credentials) })
    }

    /// A new user with `policy` as its identity policy (none: nil), and its access key.
    func user(_ name: String, policy: String?, admin: KMSClient) async throws -> (arn: String, key: KMSCredentials) {
        var create = AdminCreatePrincipalRequest()
        create.accountID = "111122223333"
        create.type = "user"
        create.name = name
        let arn = try await admin.call(AdminMethod.createPrincipal, create).principal.arn
        if let policy {
            var put = AdminPutPrincipalPolicyRequest()
            put.principalArn = arn
            put.policyName = "use"
            put.policyDocument = policy
            _ = try await admin.call(AdminMethod.putPrincipalPolicy, put)
        }
        var key = AdminCreateAccessKeyRequest()
        key.principalArn = arn
        let created = try await admin.call(AdminMethod.createAccessKey, key)
        return (
            arn, KMSCredentials(accessKeyID: created.accessKey.accessKeyID, secretAccessKey: created.secretAccessKey)
        )
    }

    /// Stops every process, removes the proxies and namespaces, drops the database.
    func stop() async {
        for kmsd in self.kmsds { await kmsd.stop() }
        for worker in self.workers { await worker.stop() }
        for proxy in self.proxies { await proxy.close() }
        for namespace in self.namespaces { await namespace.remove() }
        await self.database?.drop()
    }
}
