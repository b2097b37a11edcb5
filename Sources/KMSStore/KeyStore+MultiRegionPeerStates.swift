import Foundation
import KMSDomain
import Logging
import PostgresNIO

/// A primary's rotation schedule as its deployment told a replica's (`kms_mrk_peer_states`).
public struct PeerRotationSchedule: Sendable, Equatable {
    /// The primary's state when it was told.
    public var primaryState: String
    /// Its rotation period; nil while automatic rotation is off.
    public var rotationPeriodInDays: Int?
    /// Its next automatic rotation.
    public var nextRotationDate: Date?

    /// A schedule of these fields.
    public init(primaryState: String, rotationPeriodInDays: Int?, nextRotationDate: Date?) {
        self.primaryState = primaryState
        self.rotationPeriodInDays = rotationPeriodInDays
        self.nextRotationDate = nextRotationDate
    }
}

/// Multi-Region keys across deployments: the key states each deployment tells the other
/// (Migration26PeerKeyStates). Deletions are written by a trigger in the reaper's transaction;
/// primaries' states and schedules by `publishPrimaryStates`, in each replication round.
extension KeyStore {
    /// Writes the state and rotation schedule of every primary held here for each of its
    /// replicas in peer regions, where they changed since last told. Returns how many rows changed.
    public func publishPrimaryStates() async throws -> Int {
        try await self.client.committing(logger: self.logger) { connection in
            let rows = try await connection.query(
                """
                INSERT INTO kms_mrk_peer_states (mrk_id, destination_region, source_region, key_state,
                    rotation_period_days, next_rotation_date, updated_at)
                SELECT r.mrk_id, r.region, p.region, k.key_state, k.rotation_period_days, k.next_rotation_date,
                    clock_timestamp()
                FROM kms_mrk_remote_keys r
                JOIN kms_multi_region_keys p ON p.mrk_id = r.mrk_id AND p.is_primary
                JOIN kms_keys k ON k.key_id = p.key_id
                WHERE NOT r.is_primary AND NOT EXISTS (
                    -- Told already: not even locked again (ON CONFLICT's WHERE would lock it every round).
                    SELECT 1 FROM kms_mrk_peer_states t
                    WHERE t.mrk_id = r.mrk_id AND t.destination_region = r.region AND t.source_region = p.region
                        AND (t.key_state, t.rotation_period_days, t.next_rotation_date)
                            IS NOT DISTINCT FROM (k.key_state, k.rotation_period_days, k.next_rotation_date))
                ON CONFLICT (mrk_id, destination_region, source_region) DO UPDATE SET
                    key_state = EXCLUDED.key_state, rotation_period_days = EXCLUDED.rotation_period_days,
                    next_rotation_date = EXCLUDED.next_rotation_date, updated_at = EXCLUDED.updated_at
                RETURNING 1
                """,
                logger: self.logger)
            var count = 0
            for try await _ in rows { count += 1 }
            return count
        }
    }

    /// Drops from their families here the related keys that a peer deployment told deleted, for
    /// the families of `regions`, and moves the row versions of the family's keys here (cached
    /// copies show the family), and deletes the rows that told it. Returns the families and
    /// regions dropped.
    public func applyPeerDeletions(regions: [String]) async throws -> [(mrkID: KeyID, region: String)] {
        try await self.client.committing(logger: self.logger) { connection in
            let rows = try await connection.query(
                """
                WITH gone AS (
                    DELETE FROM kms_mrk_remote_keys r USING kms_mrk_peer_states s
                    WHERE s.destination_region = ANY(\(regions)) AND s.key_state = 'Deleted'
                        AND r.mrk_id = s.mrk_id AND r.region = s.source_region
                    RETURNING r.mrk_id, r.region
                ), consumed AS (
                    -- Told once (a deleted key never comes back): the table stays small, the round cheap.
                    DELETE FROM kms_mrk_peer_states s
                    WHERE s.destination_region = ANY(\(regions)) AND s.key_state = 'Deleted'
                ), touched AS (
                    UPDATE kms_keys SET row_version = row_version + 1
                    WHERE key_id IN (
                        SELECT f.key_id FROM kms_multi_region_keys f WHERE f.mrk_id IN (SELECT mrk_id FROM gone))
                )
                SELECT mrk_id, region FROM gone
                """,
                logger: self.logger)
            var dropped: [(mrkID: KeyID, region: String)] = []
            for try await (mrk, region) in rows.decode((UUID, String).self) { dropped.append((KeyID(mrk), region)) }
            return dropped
        }
    }

    /// The rotation schedule the deployment of `family`'s primary in `primaryRegion` told
    /// `replicaRegion`; nil when it told nothing (yet).
    public func peerRotationSchedule(of family: KeyID, primaryRegion: String, replicaRegion: String)
        async throws -> PeerRotationSchedule?
    {
        let rows = try await self.client.query(
            """
            SELECT key_state, rotation_period_days, next_rotation_date FROM kms_mrk_peer_states
            WHERE mrk_id = \(family.publicID.uuid) AND destination_region = \(replicaRegion)
                AND source_region = \(primaryRegion)
            """,
            logger: self.logger)
        var schedule: PeerRotationSchedule?
        for try await (state, period, next) in rows.decode((String, Int?, Date?).self) {
            schedule = PeerRotationSchedule(primaryState: state, rotationPeriodInDays: period, nextRotationDate: next)
        }
        return schedule
    }
}
