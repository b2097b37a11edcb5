import Foundation
import KMSClient
import KMSProto
import KMSTestSupport
import PostgresNIO

/// Two deployments, each its own PostgreSQL cluster (wal_level=logical: A publishes), kms-cryptod
/// (its own keyring: different root keys) and kmsd: A serves us-east-1 with eu-west-1 as a peer
/// region (B's transport key), B serves eu-west-1 and eu-north-1 and imports. `connect()` is the
/// README's admin step: A's publication of what B's regions need, B's subscription to it.
final class PeerDeployments: @unchecked Sendable {
    static let regionA = "us-east-1"
    static let regionB = "eu-west-1"
    /// Also served by B, and not a peer region of A: rows moved there must be refused.
    static let otherB = "eu-north-1"

    var clusters: [PostgresCluster] = []
    var databases: [TestDatabase] = []
    var workers: [WorkerProcess] = []
    var kmsds: [KMSDProcess] = []
    var clients: [KMSClient] = []
    var transportKeyB = ""

    func start() async throws {
        for _ in 0..<2 {
            let cluster = try await PostgresCluster.create(settings: ["wal_level=logical"])
            self.clusters.append(cluster)
            self.databases.append(try await TestDatabase.create(adminURL: cluster.adminURL))
            let worker = try await WorkerProcess()
            self.workers.append(worker)
            try await worker.start()
        }
        let printed = try await WorkerProcess.run(["transport-key", "--root-key-file", self.workers[1].keyringPath])
        guard printed.status == 0 else { throw WorkerTestError("transport-key failed: \(printed.output)") }
        self.transportKeyB = printed.output.trimmingCharacters(in: .whitespacesAndNewlines)
        let arguments = [
            [
                "--region", Self.regionA, "--peer-region", "\(Self.regionB)=\(self.transportKeyB)",
                "--peer-replication-interval-ms", "100", "--audit-chain", "region-a",
            ],
            [
                "--region", Self.regionB, "--regions", "\(Self.regionB),\(Self.otherB)", "--import-from-peers",
                "--peer-replication-interval-ms", "100", "--audit-chain", "region-b",
            ],
        ]
        for index in 0..<2 {
            let admin = try await KMSDProcess.bootstrap(
                databaseURL: self.databases[index].url, workerSocket: self.workers[index].socketPath)
            let kmsd = KMSDProcess(
                databaseURL: self.databases[index].url, workerSocket: self.workers[index].socketPath,
                directory: self.workers[index].directory, extraArguments: arguments[index])
            self.kmsds.append(kmsd)
            try await kmsd.start()
            self.clients.append(try kmsd.client(credentials: admin))
        }
    }

    /// The admin step: a publication on A of the rows for B's regions, and B's subscription.
    func connect() async throws {
        let regions = "'\(Self.regionB)'"
        try await self.databases[0].withClient { client in
            try await client.query(
                PostgresQuery(
                    unsafeSQL: """
                        CREATE PUBLICATION kms_mrk_to_eu_west_1
                        FOR TABLE kms_mrk_replica_exports WHERE (destination_region IN (\(regions))),
                            kms_mrk_material_exports WHERE (destination_region IN (\(regions)))
                        """))
        }
        let connection = "host=127.0.0.1 port=\(self.clusters[0].port) user=kms dbname=\(self.databases[0].name)"
        try await self.databases[1].withClient { client in
            try await client.query(
                PostgresQuery(
                    unsafeSQL: """
                        CREATE SUBSCRIPTION kms_mrk_from_us_east_1 CONNECTION '\(connection)'
                        PUBLICATION kms_mrk_to_eu_west_1
                        """))
        }
    }

    /// `body`'s value once it is not nil and does not throw; bounded, never a timing assertion.
    func eventually<T: Sendable>(_ what: String, _ body: () async throws -> T?) async throws -> T {
        let end = ContinuousClock.now + .seconds(120)
        while ContinuousClock.now < end {
            if let value = try? await body() { return value }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw WorkerTestError("gave up waiting for \(what)")
    }

    func stop() async {
        for client in self.clients { await client.close() }
        for kmsd in self.kmsds { await kmsd.stop() }
        for worker in self.workers { await worker.stop() }
        // The subscription's slot on A would keep A's clusters from stopping cleanly; both go whole.
        for cluster in self.clusters { await cluster.destroy() }
    }
}
