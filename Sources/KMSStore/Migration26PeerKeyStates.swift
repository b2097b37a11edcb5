import PostgresNIO

extension Migrations {
    /// Multi-Region keys across deployments, what each side tells the other about its related
    /// keys (README, "Multi-Region keys across deployments"): `kms_mrk_peer_states`, one row per
    /// key, region told and region telling, published like the exports (filtered by
    /// `destination_region`).
    ///
    /// - A related key deleted here (its `kms_multi_region_keys` row goes with it, ON DELETE
    ///   CASCADE) is marked `Deleted` for every region of its family that a peer deployment holds,
    ///   in the reaper's transaction: the primary's deployment drops the replica from its family
    ///   (DescribeKey) and, once none is left, starts the waiting period of a primary
    ///   PendingReplicaDeletion; then it deletes its copy of the row (nothing updates it again).
    /// - A primary held here tells its replicas in peer regions its state and rotation schedule
    ///   (kmsd's replication round writes what changed), which their GetKeyRotationStatus shows.
    ///
    /// The rows hold no secret and are not sealed: they are trusted as much as the subscription
    /// that brings them (as the exported replicas' public metadata is).
    static let peerKeyStates = Migration(
        version: 26, name: "multi-Region keys across deployments: key states told to peer regions",
        statements: [
            """
            CREATE TABLE kms_mrk_peer_states (
                mrk_id uuid NOT NULL,
                destination_region text NOT NULL,
                source_region text NOT NULL,
                key_state text NOT NULL,
                rotation_period_days integer,
                next_rotation_date timestamptz,
                updated_at timestamptz NOT NULL,
                PRIMARY KEY (mrk_id, destination_region, source_region)
            )
            """,
            """
            CREATE FUNCTION kms_mrk_peer_key_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                INSERT INTO kms_mrk_peer_states (mrk_id, destination_region, source_region, key_state, updated_at)
                SELECT OLD.mrk_id, r.region, OLD.region, 'Deleted', clock_timestamp()
                FROM kms_mrk_remote_keys r WHERE r.mrk_id = OLD.mrk_id
                ON CONFLICT (mrk_id, destination_region, source_region) DO UPDATE SET key_state = 'Deleted',
                    rotation_period_days = NULL, next_rotation_date = NULL, updated_at = EXCLUDED.updated_at;
                RETURN NULL;
            END $$
            """,
            """
            CREATE TRIGGER kms_mrk_peer_key_deleted AFTER DELETE ON kms_multi_region_keys
            FOR EACH ROW EXECUTE FUNCTION kms_mrk_peer_key_deleted()
            """,
        ])
}
