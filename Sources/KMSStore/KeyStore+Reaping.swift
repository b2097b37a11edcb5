import Foundation
import KMSDomain
import Logging
import PostgresNIO

/// What one reaping round did, for the reaper to log.
public struct ReapRound: Sendable {
    /// Whether this process held the round's lock (another kmsd holding it skips the round).
    public var held = false
    /// The cutoff the round used: the earlier of kmsd's clock and PostgreSQL's.
    public var cutoff: Date
    /// PostgreSQL's clock at the round.
    public var databaseNow: Date
    /// Keys deleted after their deletion window: lowercase key id and ARN.
    public var deletedKeys: [(keyID: KeyID, arn: String)] = []
    /// ARNs of keys whose imported material passed its ValidTo and was deleted.
    public var expiredMaterial: [String] = []

    /// A round's outcome (the stores build these; the in-memory store of the tests too).
    public init(
        held: Bool = false, cutoff: Date, databaseNow: Date, deletedKeys: [(keyID: KeyID, arn: String)] = [],
        expiredMaterial: [String] = []
    ) {
        self.held = held
        self.cutoff = cutoff
        self.databaseNow = databaseNow
        self.deletedKeys = deletedKeys
        self.expiredMaterial = expiredMaterial
    }
}

extension KeyStore {
    static let reapLockKey: Int64 = 0x4B4D_535F_5245_4150  // "KMS_REAP"

    /// One round of the deletion reaper, in one transaction under a transaction-scoped advisory
    /// lock: deletes (at most 500) keys whose deletion window has passed, with their material and
    /// aliases, keeping a tombstone in kms_deleted_keys; and deletes imported material past its
    /// ValidTo (the key goes back to PendingImport, or stays PendingDeletion). Each delete
    /// re-checks state and date under the row lock, so a CancelKeyDeletion that lands first
    /// always wins. Windows count as passed only when both `serviceNow` and PostgreSQL's clock
    /// say so (KeySchedule.destructionCutoff).
    public func reapDue(serviceNow: Date) async throws -> ReapRound {
        try await self.client.withTransaction(logger: self.logger) { connection in
            let lock = try await connection.query(
                "SELECT pg_try_advisory_xact_lock(\(Self.reapLockKey)), now()", logger: self.logger)
            var round = ReapRound(cutoff: serviceNow, databaseNow: serviceNow)
            for try await (acquired, date) in lock.decode((Bool, Date).self) {
                (round.held, round.databaseNow) = (acquired, date)
            }
            guard round.held else { return round }
            let now = KeySchedule.destructionCutoff(service: serviceNow, database: round.databaseNow)
            round.cutoff = now
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
            for try await (id, arn) in rows.decode((UUID, String).self) {
                round.deletedKeys.append((KeyID(id), arn))
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
            for try await arn in expired.decode(String.self) { round.expiredMaterial.append(arn) }
            return round
        }
    }
}
