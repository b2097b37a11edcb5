import PostgresNIO

extension Migrations {
    /// Multi-Region keys across deployments (README, "Multi-Region keys across deployments").
    ///
    /// - `kms_mrk_remote_keys`: the related keys this deployment does not hold (their region is
    ///   served by a peer deployment): the sender's replicas, the receiver's primary. DescribeKey
    ///   shows them with the local ones (`KeyStore.relatedKeys`).
    /// - `kms_mrk_replica_exports` and `kms_mrk_material_exports`: what the receiving region
    ///   needs, written by the sender and published to the receiver by PostgreSQL's logical
    ///   replication (a publication per peer, filtered by destination region): a replica's
    ///   public metadata and requested policy, description and tags, and each material version
    ///   sealed for the peer kms-cryptod's transport key. Nothing secret is in plaintext here.
    /// - `kms_mrk_imports`: the receiver's record of each exported row it handled, imported or
    ///   rejected (with why), so that a row is handled once and a refused one is never retried.
    ///
    /// Both deployments run every migration, so the receiver has the published tables for the
    /// subscription to fill; a deployment only ever writes exports for other regions and only
    /// imports rows for its own, so that publishing in both directions never loops.
    static let multiRegionExports = Migration(
        version: 21, name: "multi-Region keys across deployments: remote related keys, exports and imports",
        statements: [
            """
            CREATE TABLE kms_mrk_remote_keys (
                mrk_id uuid NOT NULL,
                region text NOT NULL,
                is_primary boolean NOT NULL,
                PRIMARY KEY (mrk_id, region)
            )
            """,
            """
            CREATE TABLE kms_mrk_replica_exports (
                mrk_id uuid NOT NULL,
                destination_region text NOT NULL,
                source_region text NOT NULL,
                replica_arn text NOT NULL,
                account_id text NOT NULL,
                key_usage text NOT NULL,
                key_spec text NOT NULL,
                origin text NOT NULL,
                description text NOT NULL,
                policy text NOT NULL,
                tag_keys text[] NOT NULL,
                tag_values text[] NOT NULL,
                current_material_id bytea NOT NULL,
                exported_at timestamptz NOT NULL,
                PRIMARY KEY (mrk_id, destination_region)
            )
            """,
            """
            CREATE TABLE kms_mrk_material_exports (
                mrk_id uuid NOT NULL,
                destination_region text NOT NULL,
                material_id bytea NOT NULL,
                source_region text NOT NULL,
                sealed bytea NOT NULL,
                created_at timestamptz NOT NULL,
                rotation_date timestamptz,
                rotation_type text,
                current_material_id bytea NOT NULL,
                -- Sent with ReplicateKey: sealed with the digest of the replica's export.
                with_replica boolean NOT NULL,
                exported_at timestamptz NOT NULL,
                PRIMARY KEY (mrk_id, destination_region, material_id)
            )
            """,
            """
            CREATE TABLE kms_mrk_imports (
                mrk_id uuid NOT NULL,
                destination_region text NOT NULL,
                material_id bytea NOT NULL,
                outcome text NOT NULL CHECK (outcome IN ('imported', 'rejected')),
                reason text,
                handled_at timestamptz NOT NULL DEFAULT now(),
                PRIMARY KEY (mrk_id, destination_region, material_id)
            )
            """,
        ])
}
