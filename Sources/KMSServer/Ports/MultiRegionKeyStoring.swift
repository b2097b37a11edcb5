import Foundation
import KMSDomain
import KMSStore

/// Multi-Region keys' families (KeyStore in PostgreSQL). A store without it serves no
/// multi-Region key: CreateKey with MultiRegion answers UnsupportedOperationException.
///
/// What an implementation must keep: every change is all or nothing with `audit` (as in
/// `KeyStoring`), and bumps the row version of every related key it does not otherwise change,
/// so that cached copies, which show the family, are dropped; `KeyStoring.fetch` of a related
/// key and `RotationStoring.rotate` of a primary see the family as these leave it (a primary's
/// rotation rotates each replica to the same material in the same transaction).
public protocol MultiRegionKeyStoring: Sendable {
    /// The regions of the family of `keyID` (any form) and which is the primary's; empty while
    /// the key has never been replicated.
    func relatedKeys(of keyID: KeyID) async throws -> [(region: String, isPrimary: Bool)]

    /// Inserts `replica` with copies of the material versions and rotations of `primary` if
    /// that is still at its row version (see `ReplicaInsertion`).
    func insertReplica(
        _ replica: KeyRecord, of primary: KeyRecord, tags: [(key: String, value: String)], audit: PendingAudit?
    ) async throws -> ReplicaInsertion

    /// Swaps the roles of `primary` and `replica`, if both are at their row versions; false if not.
    func updatePrimaryRegion(from primary: KeyRecord, to replica: KeyRecord, audit: PendingAudit?) async throws
        -> Bool

    /// Primaries PendingReplicaDeletion without replicas left start their deletion window now.
    func startReplicaWaitedDeletions(now: Date) async throws -> [String]
}

extension KeyStore: MultiRegionKeyStoring {}
