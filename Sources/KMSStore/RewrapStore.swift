import Foundation
import KMSDomain
import Logging
import PostgresNIO

/// Root key re-wrap jobs, and the stored blobs they move to the newest root key.
public struct RewrapStore: Sendable {
    /// One re-wrap run, as `kms_rewrap_jobs` keeps it; at most one runs at a time.
    public struct Job: Sendable {
        /// Increasing: the latest job has the largest id.
        public var id: Int64
        /// When an operator asked for it.
        public var requestedAt: Date
        /// Nil while it runs.
        public var finishedAt: Date?
        /// Blobs moved to the newest root key so far.
        public var rewrapped: Int64
        /// Blobs under root keys the worker's keyring no longer has: they cannot be re-wrapped, nor
        /// used, until that key is back.
        public var unavailable: Int64

        /// A job as stored (the store builds these; so does an in-memory store of the same port).
        public init(id: Int64, requestedAt: Date, finishedAt: Date?, rewrapped: Int64, unavailable: Int64) {
            self.id = id
            self.requestedAt = requestedAt
            self.finishedAt = finishedAt
            self.rewrapped = rewrapped
            self.unavailable = unavailable
        }
    }

    /// A key material blob to re-wrap; `wrapped` is what was read, so a replace can tell if it changed.
    public struct MaterialRow: Sendable {
        /// The key the material belongs to.
        public var keyID: KeyID
        /// The key's ARN, which the wrapping is bound to.
        public var keyARN: String
        /// The material version within the key.
        public var materialID: MaterialID
        /// The blob as read.
        public var wrapped: [UInt8]

        /// A blob as read.
        public init(keyID: KeyID, keyARN: String, materialID: MaterialID, wrapped: [UInt8]) {
            self.keyID = keyID
            self.keyARN = keyARN
            self.materialID = materialID
            self.wrapped = wrapped
        }
    }

    /// An access key secret to re-wrap; `wrapped` is what was read, so a replace can tell if it changed.
    public struct SecretRow: Sendable {
        /// The access key, which the wrapping is bound to.
        public var accessKeyID: String
        /// Its principal, which the wrapping is bound to as well.
        public var principalARN: String
        /// The wrapped secret as read.
        public var wrapped: [UInt8]

        /// A secret as read.
        public init(accessKeyID: String, principalARN: String, wrapped: [UInt8]) {
            self.accessKeyID = accessKeyID
            self.principalARN = principalARN
            self.wrapped = wrapped
        }
    }

    let client: PostgresClient
    let logger: Logger
    let lockStatements: AdvisoryLockStatements

    /// A store over `client`; `lockStatements` bounds the statements of `exclusively`'s lock.
    public init(client: PostgresClient, logger: Logger, lockStatements: AdvisoryLockStatements) {
        self.client = client
        self.logger = logger
        self.lockStatements = lockStatements
    }

    /// Starts a job unless one is running; returns the running job and whether it is new.
    public func start(requestedBy: String, at date: Date, audit: PendingAudit?) async throws -> (Job, Bool) {
        let started = try await self.client.change(recording: audit, logger: self.logger, effective: { $0 }) {
            connection in
            let rows = try await connection.query(
                """
                INSERT INTO kms_rewrap_jobs (requested_at, requested_by) VALUES (\(date), \(requestedBy))
                ON CONFLICT DO NOTHING RETURNING job_id
                """,
                logger: self.logger
            )
            var started = false
            for try await _ in rows.decode(Int64.self) { started = true }
            return started
        }
        guard let job = try await self.latest() else { throw StoreError.invalid("no re-wrap job after starting one") }
        return (job, started)
    }

    /// The most recent job, running or finished; nil before the first.
    public func latest() async throws -> Job? {
        let rows = try await self.client.query(
            """
            SELECT job_id, requested_at, finished_at, rewrapped, unavailable FROM kms_rewrap_jobs ORDER BY job_id DESC
                LIMIT 1
            """,
            logger: self.logger
        )
        for try await (id, requested, finished, rewrapped, unavailable) in rows.decode(
            (Int64, Date, Date?, Int64, Int64).self)
        {
            return Job(
                id: id, requestedAt: requested, finishedAt: finished, rewrapped: rewrapped, unavailable: unavailable)
        }
        return nil
    }

    /// Adds `rewrapped` to the job's count (a delta), sets `unavailable` (a total) and, when given,
    /// marks the job finished.
    public func progress(job: Int64, rewrapped: Int64, unavailable: Int64, finished: Date?) async throws {
        // Committed before the job goes on (CommittedWrite).
        try await self.client.committing(logger: self.logger) { connection in
            _ = try await connection.query(
                """
                UPDATE kms_rewrap_jobs SET rewrapped = rewrapped + \(rewrapped), unavailable = \(unavailable),
                    finished_at = \(finished)
                WHERE job_id = \(job)
                """,
                logger: self.logger
            )
        }
    }

    /// Materials not under `newest` and not under a root key known to be missing.
    public func materials(notUnder newest: UUID, skipping missing: [UUID], limit: Int) async throws -> [MaterialRow] {
        let rows = try await self.client.query(
            """
            SELECT m.key_id, k.arn, m.material_id, m.wrapped FROM kms_key_materials m JOIN kms_keys k USING (key_id)
            WHERE m.root_key_id <> \(newest) AND NOT (m.root_key_id = ANY(\(missing)))
            LIMIT \(limit)
            """,
            logger: self.logger
        )
        var found: [MaterialRow] = []
        for try await (id, arn, material, wrapped) in rows.decode((UUID, String, Data, Data).self) {
            found.append(
                MaterialRow(
                    keyID: KeyID(id), keyARN: arn, materialID: try .stored(material, in: "key \(id)'s material"),
                    wrapped: Array(wrapped)))
        }
        return found
    }

    /// Replaces one blob if it is still the one read (a concurrent change wins).
    public func replaceMaterial(_ row: MaterialRow, wrapped: [UInt8], rootKeyID: UUID) async throws -> Bool {
        // Committed before the blob under the old root key counts as replaced (CommittedWrite).
        return try await self.client.committing(logger: self.logger) { connection in
            let rows = try await connection.query(
                """
                UPDATE kms_key_materials SET wrapped = \(Data(wrapped)), root_key_id = \(rootKeyID)
                WHERE key_id = \(row.keyID.uuid) AND material_id = \(row.materialID.stored)
                    AND wrapped = \(Data(row.wrapped))
                RETURNING 1
                """,
                logger: self.logger
            )
            for try await _ in rows { return true }
            return false
        }
    }

    /// Access key secrets not under `newest` and not under a root key known to be missing.
    public func secrets(notUnder newest: UUID, skipping missing: [UUID], limit: Int) async throws -> [SecretRow] {
        let rows = try await self.client.query(
            """
            SELECT access_key_id, principal_arn, wrapped_secret FROM kms_access_keys
            WHERE root_key_id <> \(newest) AND NOT (root_key_id = ANY(\(missing)))
            UNION ALL
            SELECT xks_access_key_id, arn, xks_wrapped_secret FROM kms_custom_key_stores
            WHERE xks_wrapped_secret IS NOT NULL AND root_key_id <> \(newest)
                AND NOT (root_key_id = ANY(\(missing)))
            LIMIT \(limit)
            """,
            logger: self.logger
        )
        var found: [SecretRow] = []
        for try await (id, principal, wrapped) in rows.decode((String, String, Data).self) {
            found.append(SecretRow(accessKeyID: id, principalARN: principal, wrapped: Array(wrapped)))
        }
        return found
    }

    /// Replaces one secret if it is still the one read (a concurrent change wins).
    public func replaceSecret(_ row: SecretRow, wrapped: [UInt8], rootKeyID: UUID) async throws -> Bool {
        // Committed before the blob under the old root key counts as replaced (CommittedWrite).
        return try await self.client.committing(logger: self.logger) { connection in
            // A custom key store's proxy secret is bound to the store's ARN (Migration20CustomKeyStores).
            let rows =
                row.principalARN.contains(":key-store/")
                ? try await connection.query(
                    """
                    UPDATE kms_custom_key_stores SET xks_wrapped_secret = \(Data(wrapped)), root_key_id = \(rootKeyID),
                        row_version = row_version + 1
                    WHERE arn = \(row.principalARN) AND xks_wrapped_secret = \(Data(row.wrapped))
                    RETURNING 1
                    """,
                    logger: self.logger)
                : try await connection.query(
                    """
                    UPDATE kms_access_keys SET wrapped_secret = \(Data(wrapped)), root_key_id = \(rootKeyID)
                    WHERE access_key_id = \(row.accessKeyID) AND wrapped_secret = \(Data(row.wrapped))
                    RETURNING 1
                    """,
                    logger: self.logger
                )
            for try await _ in rows { return true }
            return false
        }
    }

    static let lockKey: Int64 = 0x4B4D_535F_5257_5250  // "KMS_RWRP"

    /// Runs `body` only if this process takes the re-wrap job's session advisory lock (another
    /// kmsd working on the job: nil, and `body` does not run); held for the whole of `body`.
    public func exclusively<T: Sendable>(_ body: () async throws -> T) async throws -> T? {
        try await self.client.withSessionAdvisoryLock(
            Self.lockKey, logger: self.logger, statements: self.lockStatements, body)
    }

    /// Root key id → (key materials, secrets: access keys', custom key stores' proxy secrets and token PINs)
    /// wrapped under it.
    public func usage() async throws -> [UUID: (materials: Int64, secrets: Int64)] {
        var usage: [UUID: (materials: Int64, secrets: Int64)] = [:]
        let materials = try await self.client.query(
            """
            SELECT root_key_id, count(*) FROM kms_key_materials WHERE root_key_id IS NOT NULL GROUP BY root_key_id
            """,
            logger: self.logger
        )
        for try await (id, count) in materials.decode((UUID, Int64).self) {
            usage[id, default: (0, 0)].materials = count
        }
        let secrets = try await self.client.query(
            "SELECT root_key_id, count(*) FROM kms_access_keys GROUP BY root_key_id", logger: self.logger
        )
        for try await (id, count) in secrets.decode((UUID, Int64).self) { usage[id, default: (0, 0)].secrets = count }
        let proxySecrets = try await self.client.query(
            """
            SELECT root_key_id, count(*) FROM kms_custom_key_stores
            WHERE xks_wrapped_secret IS NOT NULL OR cloudhsm_wrapped_pin IS NOT NULL
            GROUP BY root_key_id
            """,
            logger: self.logger)
        for try await (id, count) in proxySecrets.decode((UUID, Int64).self) {
            usage[id, default: (0, 0)].secrets += count
        }
        return usage
    }
}
