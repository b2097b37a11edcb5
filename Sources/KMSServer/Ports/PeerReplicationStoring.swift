import Foundation
import KMSDomain
import KMSStore

/// Multi-Region keys across deployments (KeyStore in PostgreSQL: Migration21MultiRegionExports).
/// The sender writes exports that PostgreSQL's logical replication carries to the receiver;
/// the receiver imports what arrived for its regions. A store without it has no peer regions.
///
/// What an implementation must keep: `insertRemoteReplica` is all or nothing with `audit` and
/// the primary's row version check (as `MultiRegionKeyStoring.insertReplica`); exported rows
/// hold sealed material only; each exported row is imported or rejected once, never both, and
/// a rejected one never becomes a key or a version.
public protocol PeerReplicationStoring: Sendable {
    /// Every stored version of `primary`, to seal for `region`.
    func exportableMaterials(of primary: KeyRecord, to region: String) async throws -> [MaterialExport]

    /// Versions of primaries held here not yet sent to their replicas in peer regions.
    func pendingMaterialExports(family: KeyID?, limit: Int) async throws -> [MaterialExport]

    /// ReplicateKey to a peer region (see `KeyStore.insertRemoteReplica`).
    func insertRemoteReplica(
        _ replica: KeyRecord, export: ReplicaExport, materials: [MaterialExport], of primary: KeyRecord,
        audit: PendingAudit?
    ) async throws -> ReplicaInsertion

    /// Writes sealed versions to the published table.
    func insertMaterialExports(_ materials: [MaterialExport]) async throws

    /// Replicas exported to `regions` and not handled yet.
    func pendingReplicaImports(regions: [String], limit: Int) async throws -> [ReplicaExport]

    /// Versions exported to `regions` (see `KeyStore.exportedMaterials`).
    func exportedMaterials(family: KeyID?, region: String?, regions: [String], pendingOnly: Bool, limit: Int)
        async throws -> [MaterialExport]

    /// Creates an exported replica here (see `KeyStore.importReplica`).
    func importReplica(_ replica: KeyRecord, export: ReplicaExport, materials: [(MaterialExport, StoredMaterial)])
        async throws -> Bool

    /// Adds a version that arrived after its replica.
    func importMaterial(_ row: MaterialExport, _ stored: StoredMaterial, replicaID: KeyID) async throws

    /// Refuses an exported replica (`material` nil) or version for good.
    func rejectImport(of mrkID: KeyID, region: String, material: MaterialID?, reason: String) async throws
}

extension KeyStore: PeerReplicationStoring {}
