import Foundation
import KMSDomain
import Logging
import PostgresNIO

/// A replica in a region served by a peer deployment, as the sender exports it
/// (`kms_mrk_replica_exports`) and the receiver reads it: public metadata and what the
/// ReplicateKey request asked for, nothing secret.
public struct ReplicaExport: Sendable {
    /// The family's public `mrk-` id.
    public var mrkID: KeyID
    /// The replica's region (served by the receiving deployment).
    public var destinationRegion: String
    /// The primary's region (served by the sending deployment).
    public var sourceRegion: String
    /// The replica's key ARN.
    public var replicaARN: String
    /// The account of the key.
    public var account: String
    /// The key's usage, spec and origin, as the primary's.
    public var usage: KeyUsage
    /// The key's spec.
    public var spec: KeySpec
    /// The key's origin.
    public var origin: Origin
    /// The replica's description, policy and tags, from the request.
    public var description: String
    /// The replica's key policy.
    public var policy: String
    /// The replica's tags.
    public var tags: [(key: String, value: String)]
    /// The primary's current material when it was replicated: the replica is created once it has arrived.
    public var currentMaterialID: MaterialID

    /// An export of these fields.
    public init(
        mrkID: KeyID, destinationRegion: String, sourceRegion: String, replicaARN: String, account: String,
        usage: KeyUsage, spec: KeySpec, origin: Origin, description: String, policy: String,
        tags: [(key: String, value: String)], currentMaterialID: MaterialID
    ) {
        self.mrkID = mrkID
        self.destinationRegion = destinationRegion
        self.sourceRegion = sourceRegion
        self.replicaARN = replicaARN
        self.account = account
        self.usage = usage
        self.spec = spec
        self.origin = origin
        self.description = description
        self.policy = policy
        self.tags = tags
        self.currentMaterialID = currentMaterialID
    }
}

/// One material version on its way to a peer region (`kms_mrk_material_exports`): before
/// sealing, the stored version (`wrapped`, under this deployment's root key); after, `sealed`
/// for the peer's transport key, which is all that is written to the published table.
public struct MaterialExport: Sendable {
    /// The family's public `mrk-` id.
    public var mrkID: KeyID
    /// The replica's region.
    public var destinationRegion: String
    /// The primary's region, which sends it.
    public var sourceRegion: String
    /// The version's id, the same in every region.
    public var materialID: MaterialID
    /// The version wrapped under this deployment's root key (sender side only, never exported).
    public var wrapped: [UInt8]
    /// The version sealed for the destination's transport key.
    public var sealed: [UInt8]
    /// When the version was made.
    public var createdAt: Date
    /// Its rotation (none for the key's first version).
    public var rotationDate: Date?
    /// AUTOMATIC or ON_DEMAND, with `rotationDate`.
    public var rotationType: String?
    /// The primary's current version when this one was exported.
    public var currentMaterialID: MaterialID
    /// Sent with ReplicateKey (sealed with the digest of the replica's export), not later.
    public var withReplica = false
    /// The primary key's ARN and spec (sender side: what its material is bound to and checked against).
    public var primaryARN: String
    /// The key's spec.
    public var spec: KeySpec
}

/// Multi-Region keys across deployments, the sending side (Migration21MultiRegionExports).
extension KeyStore {
    /// Every stored version of `primary`, for sealing to `region`.
    public func exportableMaterials(of primary: KeyRecord, to region: String) async throws -> [MaterialExport] {
        try await self.exportable(
            """
            SELECT \(primary.keyID.publicID.uuid), \(region)::text, k.region, k.arn, k.key_spec, k.current_material_id,
                m.material_id, m.wrapped, m.created_at, r.rotation_date, r.rotation_type
            FROM kms_keys k JOIN kms_key_materials m ON m.key_id = k.key_id
            LEFT JOIN kms_key_rotations r ON r.key_id = m.key_id AND r.material_id = m.material_id
            WHERE k.key_id = \(primary.keyID.uuid)
            ORDER BY m.created_at
            """)
    }

    /// Versions of primaries held here that a replica in a peer region has not been sent yet
    /// (a rotation since ReplicateKey), oldest first; of one family, or of all.
    public func pendingMaterialExports(family: KeyID?, limit: Int) async throws -> [MaterialExport] {
        let family = family?.publicID.uuid
        return try await self.exportable(
            """
            SELECT rk.mrk_id, rk.region, k.region, k.arn, k.key_spec, k.current_material_id,
                m.material_id, m.wrapped, m.created_at, r.rotation_date, r.rotation_type
            FROM kms_mrk_remote_keys rk
            JOIN kms_multi_region_keys p ON p.mrk_id = rk.mrk_id AND p.is_primary
            JOIN kms_keys k ON k.key_id = p.key_id
            JOIN kms_key_materials m ON m.key_id = k.key_id
            LEFT JOIN kms_key_rotations r ON r.key_id = m.key_id AND r.material_id = m.material_id
            WHERE NOT rk.is_primary AND (\(family)::uuid IS NULL OR rk.mrk_id = \(family))
                AND NOT EXISTS (
                    SELECT 1 FROM kms_mrk_material_exports e
                    WHERE e.mrk_id = rk.mrk_id AND e.destination_region = rk.region AND e.material_id = m.material_id)
            ORDER BY m.created_at
            LIMIT \(limit)
            """)
    }

    private func exportable(_ query: PostgresQuery) async throws -> [MaterialExport] {
        let rows = try await self.client.query(query, logger: self.logger)
        var exports: [MaterialExport] = []
        for try await row in rows {
            let (mrk, region, source, arn, spec, current, material, wrapped, created, rotated, type) = try row.decode(
                (UUID, String, String, String, String, Data, Data, Data, Date, Date?, String?).self)
            guard let keySpec = KeySpec(rawValue: spec) else { throw StoreError.invalid("key spec of \(arn)") }
            exports.append(
                MaterialExport(
                    mrkID: KeyID(mrk), destinationRegion: region, sourceRegion: source,
                    materialID: try .stored(material, in: arn),
                    wrapped: Array(wrapped), sealed: [], createdAt: created, rotationDate: rotated,
                    rotationType: type, currentMaterialID: try .stored(current, in: arn), primaryARN: arn,
                    spec: keySpec))
        }
        return exports
    }

    /// ReplicateKey to a peer region: the replica as a remote member of the family, its export
    /// and its sealed versions, with the request's record, if `primary` is still at its row
    /// version. `.inserted(replica)` echoes `replica` (the receiving region creates it);
    /// `.exists` also when a replica exported to that region was deleted there (its export is
    /// handled already: the receiver would not create it again).
    public func insertRemoteReplica(
        _ replica: KeyRecord, export: ReplicaExport, materials: [MaterialExport], of primary: KeyRecord,
        audit: PendingAudit?
    ) async throws -> ReplicaInsertion {
        let family = primary.keyID.publicID.uuid
        let effective: (ReplicaInsertion) -> Bool = {
            if case .inserted = $0 { return true }
            return false
        }
        return try await self.client.change(recording: audit, logger: self.logger, effective: effective) {
            connection in
            let touched = try await connection.query(
                """
                UPDATE kms_keys SET row_version = row_version + 1
                WHERE key_id = \(primary.keyID.uuid) AND row_version = \(primary.version) RETURNING 1
                """,
                logger: self.logger)
            var current = false
            for try await _ in touched { current = true }
            guard current else { return .primaryChanged }
            let inserted = try await connection.query(
                """
                INSERT INTO kms_mrk_remote_keys (mrk_id, region, is_primary)
                SELECT \(family), \(export.destinationRegion), false
                WHERE NOT EXISTS (
                    SELECT 1 FROM kms_mrk_replica_exports
                    WHERE mrk_id = \(family) AND destination_region = \(export.destinationRegion))
                ON CONFLICT DO NOTHING RETURNING 1
                """,
                logger: self.logger)
            var fresh = false
            for try await _ in inserted { fresh = true }
            guard fresh else { return .exists }
            try await connection.query(
                """
                WITH p AS (
                    INSERT INTO kms_multi_region_keys (mrk_id, region, key_id, is_primary)
                    VALUES (\(family), \(primary.region), \(primary.keyID.uuid), true)
                    ON CONFLICT DO NOTHING
                )
                INSERT INTO kms_mrk_replica_exports (mrk_id, destination_region, source_region, replica_arn,
                    account_id, key_usage, key_spec, origin, description, policy, tag_keys, tag_values,
                    current_material_id, exported_at)
                VALUES (\(family), \(export.destinationRegion), \(export.sourceRegion), \(export.replicaARN),
                    \(export.account), \(export.usage.rawValue), \(export.spec.rawValue), \(export.origin.rawValue),
                    \(export.description), \(export.policy), \(export.tags.map(\.key)), \(export.tags.map(\.value)),
                    \(export.currentMaterialID.stored), clock_timestamp())
                """,
                logger: self.logger)
            try await Self.insertMaterialExports(materials, on: connection, logger: self.logger)
            try await Self.touchFamily(family, except: [primary.keyID.uuid], on: connection, logger: self.logger)
            return .inserted(replica)
        }
    }

    /// Writes sealed versions to the published table; a version exported already is left as it is.
    public func insertMaterialExports(_ materials: [MaterialExport]) async throws {
        try await self.client.committing(logger: self.logger) { connection in
            try await Self.insertMaterialExports(materials, on: connection, logger: self.logger)
        }
    }

    static func insertMaterialExports(_ materials: [MaterialExport], on connection: PostgresConnection, logger: Logger)
        async throws
    {
        for material in materials {
            precondition(!material.sealed.isEmpty, "only sealed material is exported")
            try await connection.query(
                """
                INSERT INTO kms_mrk_material_exports (mrk_id, destination_region, material_id, source_region, sealed,
                    created_at, rotation_date, rotation_type, current_material_id, with_replica, exported_at)
                VALUES (\(material.mrkID.publicID.uuid), \(material.destinationRegion), \(material.materialID.stored),
                    \(material.sourceRegion),
                    \(Data(material.sealed)), \(material.createdAt), \(material.rotationDate),
                    \(material.rotationType), \(material.currentMaterialID.stored), \(material.withReplica),
                    clock_timestamp())
                ON CONFLICT DO NOTHING
                """,
                logger: logger)
        }
    }
}
