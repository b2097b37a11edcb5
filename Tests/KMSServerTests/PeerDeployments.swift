import Foundation
import KMSClient
import KMSProto
import KMSTestSupport
import PostgresNIO

/// Two deployments, each its own PostgreSQL cluster (wal_level=logical: both publish), kms-cryptod
/// (its own keyring: different root keys) and kmsd: A serves us-east-1 with eu-west-1 as a peer
/// region (B's transport key), B serves eu-west-1 and eu-north-1 with us-east-1 as a peer (A's).
/// `connect()` is the README's admin step, both ways: each publishes what the other's regions
/// need (exports and key states), and subscribes to the other's publication. Deletion reaper
/// rounds every second, for the tests of deletions across deployments.
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
    var transportKeys: [String] = []

    func start() async throws {
        for _ in 0..<2 {
            let cluster = try await PostgresCluster.create(settings: ["wal_level=logical"])
            self.clusters.append(cluster)
            self.databases.append(try await TestDatabase.create(adminURL: cluster.adminURL))
            let worker = try await WorkerProcess()
            self.workers.append(worker)
            try await worker.start()
        }
        for worker in self.workers {
            let printed = try await WorkerProcess.run(["transport-key", "--root-key-file", worker.keyringPath])
            guard printed.status == 0 else { throw WorkerTestError("transport-key failed: \(printed.output)") }
            self.transportKeys.append(printed.output.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        let arguments = [
            [
                "--region", Self.regionA, "--peer-region", "\(Self.regionB)=\(self.transportKeys[1])",
                "--peer-replication-interval-ms", "100", "--audit-chain", "region-a",
                "--reaper-interval-seconds", "1",
            ],
            [
                "--region", Self.regionB, "--regions", "\(Self.regionB),\(Self.otherB)", "--import-from-peers",
                "--peer-region", "\(Self.regionA)=\(self.transportKeys[0])",
                "--peer-replication-interval-ms", "100", "--audit-chain", "region-b",
                "--reaper-interval-seconds", "1",
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

    /// The admin step, both ways: on each side a publication of the rows for the other's
    /// regions, and a subscription to the other's.
    func connect() async throws {
        let names = ["us_east_1", "eu_west_1"]
        let destinations = ["'\(Self.regionB)'", "'\(Self.regionA)'"]
        for index in 0..<2 {
            let filter = "WHERE (destination_region IN (\(destinations[index])))"
            try await self.databases[index].withClient { client in
                try await client.query(
                    PostgresQuery(
                        unsafeSQL: """
                            CREATE PUBLICATION kms_mrk_from_\(names[index])
                            FOR TABLE kms_mrk_replica_exports \(filter), kms_mrk_material_exports \(filter),
                                kms_mrk_peer_states \(filter)
                            """))
            }
        }
        for index in 0..<2 {
            let other = 1 - index
            let connection =
                "host=127.0.0.1 port=\(self.clusters[other].port) user=kms dbname=\(self.databases[other].name)"
            try await self.databases[index].withClient { client in
                try await client.query(
                    PostgresQuery(
                        unsafeSQL: """
                            CREATE SUBSCRIPTION kms_mrk_from_\(names[other]) CONNECTION '\(connection)'
                            PUBLICATION kms_mrk_from_\(names[other])
                            """))
            }
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
