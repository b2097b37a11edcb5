import Foundation
import KMSDomain
import KMSStore
import Logging
import PostgresNIO
import ServiceLifecycle

/// Deletes keys whose deletion window has passed, with their material and aliases. One kmsd at
/// a time does it (a transaction-scoped advisory lock; the others skip the round), and each
/// delete re-checks state and date, so a CancelKeyDeletion that lands first always wins.
/// After this, ciphertexts under those keys can never be decrypted again.
///
/// The same round deletes imported key material past its ValidTo: the key goes back to
/// PendingImport (or stays PendingDeletion) until the same material is imported again.
public struct DeletionReaper: Service {
    static let lockKey: Int64 = 0x4B4D_535F_5245_4150  // "KMS_REAP"

    let client: PostgresClient
    let interval: Duration
    let logger: Logger
    /// Wall time decides which deletion dates and ValidTo have passed; monotonic time spaces the rounds.
    let clock: ServiceClock

    /// A reaper that runs a round every `interval`.
    public init(client: PostgresClient, interval: Duration, logger: Logger, clock: ServiceClock = .system) {
        self.client = client
        self.interval = interval
        self.logger = logger
        self.clock = clock
    }

    /// Runs rounds until a graceful shutdown; a failed round is logged and the next tries again.
    public func run() async throws {
        await Periodic.rounds(
            every: self.interval, clock: self.clock, logger: self.logger, failure: "deletion reaper round failed"
        ) { try await self.reapOnce() }
    }

    /// One round: returns the ids of the keys deleted. Windows and ValidTo count as passed only
    /// when both kmsd's wall clock and PostgreSQL's say so (KeySchedule.destructionCutoff).
    @discardableResult
    public func reapOnce() async throws -> [String] {
        let serviceNow = self.clock.wallNow
        return try await self.client.withTransaction(logger: self.logger) { connection in
            let lock = try await connection.query(
                "SELECT pg_try_advisory_xact_lock(\(Self.lockKey)), now()", logger: self.logger)
            var held = false
            var databaseNow = serviceNow
            for try await (acquired, date) in lock.decode((Bool, Date).self) { (held, databaseNow) = (acquired, date) }
            guard held else { return [] }
            let now = KeySchedule.destructionCutoff(service: serviceNow, database: databaseNow)
            if now < serviceNow.addingTimeInterval(-60) {
                self.logger.warning(
                    "kmsd's clock is ahead of PostgreSQL's: keys and key material are deleted by PostgreSQL's",
                    metadata: [
                        "kmsd": "\(serviceNow)", "postgresql": "\(databaseNow)",
                    ])
            }
            let rows = try await connection.query(
                """
                WITH gone AS (
                    DELETE FROM kms_keys WHERE key_id IN (
                        SELECT key_id FROM kms_keys
                        WHERE key_state = 'PendingDeletion' AND deletion_date <= \(now)
                        ORDER BY deletion_date LIMIT 500 FOR UPDATE SKIP LOCKED)
                    RETURNING key_id, arn, account_id, region, key_spec, key_manager, creation_date,
                        deletion_date - make_interval(days => coalesce(pending_window_days, 0)) AS scheduled_at
                ), kept AS (
                    INSERT INTO kms_deleted_keys (arn, account_id, region, key_spec, key_manager, creation_date,
                        scheduled_at, deleted_at, rotation_dates)
                    SELECT arn, account_id, region, key_spec, key_manager, creation_date, scheduled_at, \(now),
                        coalesce((SELECT array_agg(rotation_date ORDER BY rotation_date) FROM kms_key_rotations r
                                  WHERE r.key_id = gone.key_id), '{}')
                    FROM gone
                    ON CONFLICT (arn) DO NOTHING
                )
                SELECT key_id, arn FROM gone
                """,
                logger: self.logger
            )
            var deleted: [String] = []
            for try await (id, arn) in rows.decode((UUID, String).self) {
                deleted.append(id.uuidString.lowercased())
                self.logger.notice("deleted key after its deletion window", metadata: ["key_arn": "\(arn)"])
            }
            let expired = try await connection.query(
                """
                WITH expired AS (
                    SELECT key_id FROM kms_keys WHERE valid_to IS NOT NULL AND valid_to <= \(now)
                    ORDER BY valid_to LIMIT 500 FOR UPDATE SKIP LOCKED
                ), gone AS (
                    DELETE FROM kms_key_materials WHERE key_id IN (SELECT key_id FROM expired)
                )
                UPDATE kms_keys SET
                    key_state = CASE WHEN key_state = 'PendingDeletion' THEN key_state ELSE 'PendingImport' END,
                    valid_to = NULL, row_version = row_version + 1
                WHERE key_id IN (SELECT key_id FROM expired)
                RETURNING arn
                """,
                logger: self.logger
            )
            for try await arn in expired.decode(String.self) {
                self.logger.notice("deleted imported key material at its ValidTo", metadata: ["key_arn": "\(arn)"])
            }
            return deleted
        }
    }
}
