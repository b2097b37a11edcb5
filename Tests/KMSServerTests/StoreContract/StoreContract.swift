import Foundation
import KMSDomain
import KMSServer
import KMSStore
import KMSTestSupport
import Logging
import PostgresNIO
import Testing

/// The stores a contract scenario runs on: PostgreSQL's (a fresh database per test) or the
/// in-memory one. Each scenario is written once against the ports and run on both, asserting
/// the same results: that is what keeps `InMemoryDatabase` honest.
enum StoreBackend: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case postgres
    case inMemory

    var testDescription: String { self.rawValue }

    static let logger: Logger = {
        var logger = Logger(label: "store-contract")
        logger.logLevel = .warning  // not a line per migration per test
        return logger
    }()
    static let scope = ServiceScope(regions: [Fixture.region], defaultRegion: Fixture.region, defaultAccount: "000")

    /// Runs `body` on a fresh set of this backend's stores.
    func run(_ body: @escaping @Sendable (ContractStores) async throws -> Void) async throws {
        switch self {
        case .inMemory:
            let database = InMemoryDatabase()
            try await body(
                ContractStores(
                    keys: database, aliases: database, grants: database, identities: database, rotations: database,
                    lastUsage: database, usage: database, rewraps: database, auditRecords: database,
                    billing: database,
                    writer: { chain, worker in InMemoryAuditLog(database: database, chain: chain, worker: worker) },
                    fillGrants: { keyID, count in
                        for index in 0..<count {
                            _ = try await database.insert(Fixture.grant("fill-\(index)", keyID: keyID), audit: nil)
                        }
                    },
                    tombstones: {
                        database.deletedKeys.map {
                            Tombstone(
                                arn: $0.arn, scheduledAt: $0.scheduledAt, deletedAt: $0.deletedAt,
                                rotations: $0.rotationDates.count)
                        }
                    }
                ))
        case .postgres:
            let database = try await TestDatabase.create()
            defer { Task { await database.drop() } }
            try await database.withClient { client in
                try await Migrations.apply(on: client, logger: Self.logger)
                let stores = ServiceStores.postgres(client: client, scope: Self.scope, logger: Self.logger)
                try await body(
                    ContractStores(
                        keys: stores.keys, aliases: stores.aliases, grants: stores.grants,
                        identities: stores.identities, rotations: stores.rotations, lastUsage: stores.lastUsage,
                        usage: stores.usage, rewraps: stores.rewraps, auditRecords: stores.auditRecords,
                        billing: stores.billing,
                        writer: { chain, worker in
                            // Every batch checkpointed, as the in-memory writer does every append.
                            AuditLog(
                                store: AuditStore(client: client, logger: Self.logger), chain: chain, worker: worker,
                                checkpointInterval: .zero, logger: Self.logger)
                        },
                        fillGrants: { keyID, count in
                            // One statement: 50,000 transactions would take minutes.
                            let id = keyID.uuid
                            try await client.query(
                                """
                                INSERT INTO kms_grants (grant_id, key_id, grantee_principal, issuing_account,
                                    operations, creation_date)
                                SELECT 'fill-' || g, \(id), 'arn:aws:iam::111122223333:role/fill',
                                    'arn:aws:iam::111122223333:root', ARRAY['Decrypt'], now()
                                FROM generate_series(0, \(count) - 1) AS g
                                """,
                                logger: Self.logger)
                        },
                        tombstones: {
                            let rows = try await client.query(
                                """
                                SELECT arn, scheduled_at, deleted_at, cardinality(rotation_dates)
                                FROM kms_deleted_keys ORDER BY arn
                                """,
                                logger: Self.logger)
                            var found: [Tombstone] = []
                            for try await (arn, scheduled, deleted, rotations) in rows.decode(
                                (String, Date, Date, Int).self)
                            {
                                found.append(
                                    Tombstone(
                                        arn: arn, scheduledAt: scheduled, deletedAt: deleted, rotations: rotations)
                                )
                            }
                            return found
                        }
                    ))
            }
        }
    }
}

/// What the reaper kept of a deleted key, as far as the contract checks it; times in whole
/// microseconds, as PostgreSQL computes them.
struct Tombstone: Sendable, Equatable {
    var arn: String
    var scheduledAt: Int64
    var deletedAt: Int64
    var rotations: Int

    init(arn: String, scheduledAt: Date, deletedAt: Date, rotations: Int) {
        self.arn = arn
        self.scheduledAt = Fixture.micros(scheduledAt)
        self.deletedAt = Fixture.micros(deletedAt)
        self.rotations = rotations
    }
}

/// One backend's stores, through the ports, its audit log's writer (a new one per call, for a
/// chain; with a worker, every record is checkpointed), and the two things no port offers:
/// filling a key with grants fast (the limit is 50,000) and reading the reaper's tombstones.
struct ContractStores: Sendable {
    var keys: any KeyStoring
    var aliases: any AliasStoring
    var grants: any GrantStoring
    var identities: any IdentityStoring
    var rotations: any RotationStoring
    var lastUsage: any LastUsageStoring
    var usage: any UsageStoring
    var rewraps: any RewrapStoring
    var auditRecords: any AuditReading
    var billing: any BillingStoring
    var writer: @Sendable (_ chain: String, _ worker: (any CryptoBackend)?) -> any AuditWriting
    var fillGrants: @Sendable (_ keyID: KeyID, _ count: Int) async throws -> Void
    var tombstones: @Sendable () async throws -> [Tombstone]
}

extension StoreBackend {
    /// For a test of PostgreSQL's stores alone (what the in-memory ones do not model: locks,
    /// notifications, the outbox's rows): `body` gets the client of a fresh, migrated database
    /// and that database's stores; the database is dropped after.
    /// Scans of the whole of `table` so far, the session's own included (flushed to the shared
    /// counters first: a session reports its own at most once a second otherwise). Tests of plans
    /// a session keeps count them around what they run.
    static func wholeScans(of table: String, on connection: PostgresConnection) async throws -> Int64 {
        try await connection.query("SELECT pg_stat_force_next_flush()", logger: Self.logger)
        let rows = try await connection.query(
            "SELECT seq_scan FROM pg_stat_user_tables WHERE relname = \(table)", logger: Self.logger)
        for try await count in rows.decode(Int64.self) { return count }
        return 0
    }

    static func withPostgres(
        maximumConnections: Int = 2, _ body: @escaping @Sendable (PostgresClient, ServiceStores) async throws -> Void
    ) async throws {
        let database = try await TestDatabase.create()
        defer { Task { await database.drop() } }
        try await database.withClient(maximumConnections: maximumConnections) { client in
            try await Migrations.apply(on: client, logger: Self.logger)
            try await body(client, ServiceStores.postgres(client: client, scope: Self.scope, logger: Self.logger))
        }
    }
}

/// The records the scenarios store.
enum Fixture {
    static let account = "111122223333"
    static let region = "us-east-1"
    /// Past the microsecond, to see it truncated.
    static let created = Date(timeIntervalSince1970: 1_764_400_000.123_456_789)

    /// What a timestamptz gives back for `date` (postgres-nio's encoding: whole microseconds
    /// since 2000, truncated toward zero).
    static func stored(_ date: Date) -> Date {
        let start = Date(timeIntervalSince1970: 946_684_800)
        return Date(timeInterval: Double(Int64(date.timeIntervalSince(start) * 1_000_000)) / 1_000_000, since: start)
    }

    /// `date` in whole microseconds since 1970, rounded: equal for dates PostgreSQL and Swift
    /// computed with different rounding errors.
    static func micros(_ date: Date) -> Int64 { Int64((date.timeIntervalSince1970 * 1_000_000).rounded()) }

    static func newID() -> KeyID { KeyID.random() }

    static func key(
        _ id: KeyID = Fixture.newID(), account: String = Fixture.account, region: String = Fixture.region,
        state: KeyState = .enabled, origin: Origin = .awsKMS, material: MaterialID? = MaterialID(repeating: 1)
    ) -> KeyRecord {
        KeyRecord(
            keyID: id, arn: "arn:aws:kms:\(region):\(account):key/\(id)", account: account,
            region: region, description: "a key", state: state, usage: .encryptDecrypt, spec: .symmetricDefault,
            origin: origin, manager: .customer, creationDate: Self.created, deletionDate: nil,
            pendingWindowInDays: nil, policy: "{}", currentMaterialID: material, version: 1
        )
    }

    static func material(_ id: UInt8, blob: UInt8 = 0) -> StoredMaterial {
        StoredMaterial(
            materialID: MaterialID(repeating: id), wrapped: [id, blob, 0xAA],
            rootKeyID: UUID(uuidString: "7c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f")!)
    }

    static func grant(_ id: String, keyID: KeyID, retiring: String? = nil) -> GrantRecord {
        GrantRecord(
            grantID: id, keyID: keyID, name: nil, granteePrincipal: "arn:aws:iam::111122223333:role/app",
            retiringPrincipal: retiring, issuingAccount: "arn:aws:iam::111122223333:root",
            operations: ["Decrypt", "Encrypt"], encryptionContextEquals: nil,
            encryptionContextSubset: ["tenant": "zürich"], creationDate: Self.created
        )
    }

    static func audit(_ operation: String) -> PendingAudit {
        PendingAudit(
            chain: "default",
            entry: AuditEntry(
                time: Self.created, requestID: UUID().uuidString.lowercased(),
                principalARN: "arn:aws:iam::111122223333:user/ops", accessKeyID: nil, sourceIP: nil,
                transport: "binary", operation: operation, keyARNs: [], alias: nil, encryptionContext: nil,
                grantID: nil, errorCode: nil))
    }
}
