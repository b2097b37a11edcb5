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
/// a rejected one never becomes a key or a version; a related key deleted here is told to the
/// peer regions of its family in the deletion's transaction.
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

    /// Creates an exported replica here, with its audit record (see `KeyStore.importReplica`).
    func importReplica(
        _ replica: KeyRecord, export: ReplicaExport, materials: [(MaterialExport, StoredMaterial)],
        audit: PendingAudit?
    ) async throws -> Bool

    /// Adds a version that arrived after its replica.
    func importMaterial(_ row: MaterialExport, _ stored: StoredMaterial, replicaID: KeyID) async throws

    /// Tells the replicas in peer regions of the primaries held here their state and rotation
    /// schedule, where they changed (see `KeyStore.publishPrimaryStates`).
    func publishPrimaryStates() async throws -> Int

    /// Drops the related keys a peer deployment told deleted (see `KeyStore.applyPeerDeletions`).
    func applyPeerDeletions(regions: [String]) async throws -> [(mrkID: KeyID, region: String)]

    /// A peer primary's rotation schedule as told to a replica here.
    func peerRotationSchedule(of family: KeyID, primaryRegion: String, replicaRegion: String)
        async throws -> PeerRotationSchedule?

    /// Refuses an exported replica (`material` nil) or version for good.
    func rejectImport(of mrkID: KeyID, region: String, material: MaterialID?, reason: String) async throws
}

extension KeyStore: PeerReplicationStoring {}
