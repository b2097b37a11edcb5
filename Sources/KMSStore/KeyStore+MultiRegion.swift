import Foundation
import KMSDomain
import Logging
import PostgresNIO

/// What ReplicateKey's insert came to.
public enum ReplicaInsertion: Sendable {
    /// The replica as stored.
    case inserted(KeyRecord)
    /// The region has a key of this family already (a replica, or the primary itself).
    case exists
    /// The primary changed since it was read (its row version moved): read it again.
    case primaryChanged
}

/// Multi-Region keys in PostgreSQL (table `kms_multi_region_keys`, Migration19MultiRegionKeys).
/// Every statement that changes a family also bumps the row version of each related key, so
/// that every kmsd's cached copy (which shows the family in DescribeKey) is dropped by NOTIFY.
extension KeyStore {
    /// The regions of a multi-Region key's family and which is the primary's, those served by
    /// peer deployments included; empty while the key has never been replicated (a family of one).
    public func relatedKeys(of keyID: KeyID) async throws -> [(region: String, isPrimary: Bool)] {
        let rows = try await self.client.query(
            """
            SELECT region, is_primary FROM kms_multi_region_keys WHERE mrk_id = \(keyID.publicID.uuid)
            UNION ALL
            SELECT region, is_primary FROM kms_mrk_remote_keys WHERE mrk_id = \(keyID.publicID.uuid)
            ORDER BY region
            """,
            logger: self.logger)
        var members: [(region: String, isPrimary: Bool)] = []
        for try await (region, isPrimary) in rows.decode((String, Bool).self) {
            members.append((region, isPrimary))
        }
        return members
    }

    /// Inserts `replica` (its own row id, policy, description, state) with copies of all of
    /// `primary`'s material versions (wrapped blobs, the same material ids) and rotations, its
    /// tags and the request's record, if `primary` is still at `primary.version`. Imported
    /// material (origin EXTERNAL) is not copied, as at AWS: the replica lists the primary's
    /// materials as PENDING_IMPORT, for the caller to import into it.
    public func insertReplica(
        _ replica: KeyRecord, of primary: KeyRecord, tags: [(key: String, value: String)], audit: PendingAudit?
    ) async throws -> ReplicaInsertion {
        let primaryID = primary.keyID.uuid
        let replicaID = replica.keyID.uuid
        let family = primary.keyID.publicID.uuid
        let tagKeys = tags.map(\.key)
        let tagValues = tags.map(\.value)
        let copiesMaterial = primary.origin != .external
        let effective: (ReplicaInsertion) -> Bool = {
            if case .inserted = $0 { return true }
            return false
        }
        return try await self.client.change(recording: audit, logger: self.logger, effective: effective) {
            connection in
            try await connection.planKeyLookupsByIndex(logger: self.logger)
            // First, so that a rotation of the primary waits for this transaction (and then
            // sees the replica) or this one sees the rotation's version and retries.
            let touched = try await connection.query(
                """
                UPDATE kms_keys SET row_version = row_version + 1
                WHERE key_id = \(primaryID) AND row_version = \(primary.version) RETURNING 1
                """,
                logger: self.logger)
            var current = false
            for try await _ in touched { current = true }
            guard current else { return .primaryChanged }
            let rows = try await connection.query(
                """
                INSERT INTO kms_keys (key_id, arn, account_id, region, description, key_state, key_usage, key_spec,
                    origin, key_manager, creation_date, deletion_date, pending_window_days, policy,
                    current_material_id, row_version, rotation_period_days, next_rotation_date, valid_to,
                    expiration_model)
                SELECT \(replicaID), \(replica.arn), account_id, \(replica.region), \(replica.description),
                    \(replica.state.rawValue), key_usage, key_spec, origin, key_manager, \(replica.creationDate),
                    NULL, NULL, \(replica.policy), current_material_id, 1, NULL, NULL,
                    CASE WHEN \(copiesMaterial) THEN valid_to END, CASE WHEN \(copiesMaterial) THEN expiration_model END
                FROM kms_keys WHERE key_id = \(primaryID)
                ON CONFLICT (key_id) DO NOTHING
                RETURNING \(unescaped: Self.columns)
                """,
                logger: self.logger)
            var stored: KeyRecord?
            for try await row in rows { stored = try Self.decode(row) }
            guard let stored else { return .exists }
            try await connection.query(
                """
                WITH m AS (
                    INSERT INTO kms_key_materials (key_id, material_id, wrapped, root_key_id, created_at)
                    SELECT \(replicaID), material_id, wrapped, root_key_id, created_at
                    FROM kms_key_materials WHERE key_id = \(primaryID) AND \(copiesMaterial)
                ), i AS (
                    INSERT INTO kms_imported_materials (key_id, material_id, description, valid_to, expiration_model,
                        imported, pending_rotation, imported_at)
                    SELECT \(replicaID), material_id, description, NULL, NULL, false, pending_rotation, imported_at
                    FROM kms_imported_materials WHERE key_id = \(primaryID)
                ), r AS (
                    INSERT INTO kms_key_rotations (key_id, material_id, rotation_date, rotation_type)
                    SELECT \(replicaID), material_id, rotation_date, rotation_type
                    FROM kms_key_rotations WHERE key_id = \(primaryID)
                ), t AS (
                    INSERT INTO kms_tags (key_id, tag_key, tag_value)
                    SELECT \(replicaID), tag.key, tag.value
                    FROM unnest(\(tagKeys)::text[], \(tagValues)::text[]) AS tag(key, value)
                ), p AS (
                    INSERT INTO kms_multi_region_keys (mrk_id, region, key_id, is_primary)
                    VALUES (\(family), \(primary.region), \(primaryID), true)
                    ON CONFLICT DO NOTHING
                )
                INSERT INTO kms_multi_region_keys (mrk_id, region, key_id, is_primary)
                VALUES (\(family), \(replica.region), \(replicaID), false)
                """,
                logger: self.logger)
            try await Self.touchFamily(family, except: [primaryID, replicaID], on: connection, logger: self.logger)
            return .inserted(stored)
        }
    }

    /// Makes `replica` the primary and `primary` a replica (the rotation schedule moves with
    /// the role), if both are still at their row versions; false when either changed.
    public func updatePrimaryRegion(from primary: KeyRecord, to replica: KeyRecord, audit: PendingAudit?)
        async throws -> Bool
    {
        let family = primary.keyID.publicID.uuid
        let oldID = primary.keyID.uuid
        let newID = replica.keyID.uuid
        do {
            return try await self.client.change(recording: audit, logger: self.logger) { connection in
                for (id, version, period, next) in [
                    (oldID, primary.version, Int?.none, Date?.none),
                    (newID, replica.version, primary.rotationPeriodInDays, primary.nextRotationDate),
                ] {
                    let rows = try await connection.query(
                        """
                        UPDATE kms_keys SET rotation_period_days = \(period), next_rotation_date = \(next),
                            row_version = row_version + 1
                        WHERE key_id = \(id) AND row_version = \(version) RETURNING 1
                        """,
                        logger: self.logger)
                    var current = false
                    for try await _ in rows { current = true }
                    guard current else { throw FamilyChanged() }  // rolls back the other
                }
                // Two statements: the unique index of primaries is checked row by row.
                try await connection.query(
                    "UPDATE kms_multi_region_keys SET is_primary = false WHERE mrk_id = \(family)",
                    logger: self.logger)
                try await connection.query(
                    "UPDATE kms_multi_region_keys SET is_primary = true WHERE mrk_id = \(family) AND key_id = \(newID)",
                    logger: self.logger)
                try await Self.touchFamily(family, except: [oldID, newID], on: connection, logger: self.logger)
                return true
            }
        } catch is FamilyChanged {
            return false
        } catch let error as PostgresTransactionError where error.closureError is FamilyChanged {
            return false
        }
    }

    /// Starts the deletion window of every primary PendingReplicaDeletion whose replicas are all
    /// gone, those in peer regions too (their deployment tells when one is deleted:
    /// `applyPeerDeletions`): PendingDeletion, deletion date `now` plus its window. Returns their ARNs.
    public func startReplicaWaitedDeletions(now: Date) async throws -> [String] {
        try await self.client.committing(logger: self.logger) { connection in
            let rows = try await connection.query(
                """
                UPDATE kms_keys k SET key_state = 'PendingDeletion',
                    deletion_date = date_trunc('second', \(now)::timestamptz)
                        + make_interval(days => k.pending_window_days),
                    row_version = row_version + 1
                WHERE k.key_state = 'PendingReplicaDeletion' AND NOT EXISTS (
                    SELECT 1 FROM kms_multi_region_keys me
                    JOIN kms_multi_region_keys other ON other.mrk_id = me.mrk_id AND other.key_id <> me.key_id
                    WHERE me.key_id = k.key_id) AND NOT EXISTS (
                    SELECT 1 FROM kms_multi_region_keys me
                    JOIN kms_mrk_remote_keys remote ON remote.mrk_id = me.mrk_id AND NOT remote.is_primary
                    WHERE me.key_id = k.key_id)
                RETURNING k.arn
                """,
                logger: self.logger)
            var arns: [String] = []
            for try await arn in rows.decode(String.self) { arns.append(arn) }
            return arns
        }
    }

    private struct FamilyChanged: Error {}

    /// Bumps the row version of the family's other keys, so caches drop their copies.
    static func touchFamily(_ family: UUID, except: [UUID], on connection: PostgresConnection, logger: Logger)
        async throws
    {
        try await connection.query(
            """
            UPDATE kms_keys SET row_version = row_version + 1
            WHERE key_id IN (SELECT key_id FROM kms_multi_region_keys WHERE mrk_id = \(family))
                AND key_id <> ALL(\(except))
            """,
            logger: logger)
    }
}
