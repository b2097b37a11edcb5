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
    /// The token keys of deleted keys in AWS_CLOUDHSM stores, for the reaper to destroy in their tokens.
    public var deletedTokenKeys: [DeletedTokenKey] = []

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

/// A material version of a deleted key that is a key in its custom key store's token: no row
/// names it any more, so it goes from the token too.
public struct DeletedTokenKey: Sendable, Equatable {
    /// The deleted key.
    public var keyID: KeyID
    /// Its ARN.
    public var arn: String
    /// The AWS_CLOUDHSM store whose token holds the material.
    public var customKeyStoreID: CustomKeyStoreID
    /// The material version (the token key's label follows from it and the key id).
    public var materialID: MaterialID

    /// A deleted key's token key.
    public init(keyID: KeyID, arn: String, customKeyStoreID: CustomKeyStoreID, materialID: MaterialID) {
        self.keyID = keyID
        self.arn = arn
        self.customKeyStoreID = customKeyStoreID
        self.materialID = materialID
    }
}

extension KeyStore {
    static let reapLockKey: Int64 = 0x4B4D_535F_5245_4150  // "KMS_REAP"

    /// One round of the deletion reaper, in one transaction under a transaction-scoped advisory
    /// lock: deletes (at most 500) keys whose deletion window has passed, with their material and
    /// aliases, keeping a tombstone in kms_deleted_keys; and deletes imported material past its
    /// ValidTo (the key goes back to PendingImport, or stays PendingDeletion; material pending
    /// rotation just goes). Each delete
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
                        custom_key_store_id,
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
                -- The statement's snapshot still shows the materials the delete cascades to.
                SELECT g.key_id, g.arn, g.custom_key_store_id, m.material_id FROM gone g
                LEFT JOIN kms_key_materials m ON m.key_id = g.key_id AND m.root_key_id IS NULL
                    AND g.custom_key_store_id IS NOT NULL
                """,
                logger: self.logger
            )
            var deleted: Set<UUID> = []
            for try await (id, arn, store, material) in rows.decode((UUID, String, String?, Data?).self) {
                if deleted.insert(id).inserted { round.deletedKeys.append((KeyID(id), arn)) }
                if let store = store.flatMap(CustomKeyStoreID.init), let material {
                    round.deletedTokenKeys.append(
                        DeletedTokenKey(
                            keyID: KeyID(id), arn: arn, customKeyStoreID: store,
                            materialID: try .stored(material, in: "key \(id)'s material")))
                }
            }
            // A key's ValidTo is its current material's.
            let expired = try await connection.query(
                """
                WITH expired AS (
                    SELECT key_id, current_material_id FROM kms_keys WHERE valid_to IS NOT NULL AND valid_to <= \(now)
                    ORDER BY valid_to LIMIT 500 FOR UPDATE SKIP LOCKED
                ), gone AS (
                    DELETE FROM kms_key_materials m USING expired e
                    WHERE m.key_id = e.key_id AND m.material_id = e.current_material_id
                ), listed AS (
                    UPDATE kms_imported_materials m SET imported = false, valid_to = NULL FROM expired e
                    WHERE m.key_id = e.key_id AND m.material_id = e.current_material_id
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
            // The key's other materials: one pending rotation goes entirely, the key unchanged;
            // any other waits to be imported again, and its key with it.
            let others = try await connection.query(
                """
                WITH expired AS (
                    SELECT m.key_id, m.material_id, m.pending_rotation
                    FROM kms_imported_materials m JOIN kms_keys k USING (key_id)
                    WHERE m.valid_to IS NOT NULL AND m.valid_to <= \(now) AND m.material_id <> k.current_material_id
                    ORDER BY m.valid_to LIMIT 500 FOR UPDATE OF k SKIP LOCKED
                ), gone AS (
                    DELETE FROM kms_key_materials w USING expired e
                    WHERE w.key_id = e.key_id AND w.material_id = e.material_id
                ), dropped AS (
                    DELETE FROM kms_imported_materials m USING expired e
                    WHERE m.key_id = e.key_id AND m.material_id = e.material_id AND e.pending_rotation
                ), listed AS (
                    UPDATE kms_imported_materials m SET imported = false, valid_to = NULL FROM expired e
                    WHERE m.key_id = e.key_id AND m.material_id = e.material_id AND NOT e.pending_rotation
                )
                UPDATE kms_keys k SET
                    key_state = CASE
                        WHEN key_state = 'PendingDeletion' THEN key_state
                        WHEN EXISTS (SELECT 1 FROM expired e WHERE e.key_id = k.key_id AND NOT e.pending_rotation)
                            THEN 'PendingImport'
                        ELSE key_state END,
                    row_version = row_version + 1
                WHERE key_id IN (SELECT key_id FROM expired)
                RETURNING arn
                """,
                logger: self.logger
            )
            for try await arn in others.decode(String.self) { round.expiredMaterial.append(arn) }
            return round
        }
    }
}
