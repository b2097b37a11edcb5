import KMSDomain
import KMSStore

/// Imported material in multi-Region keys (ImportedMaterialRules+MultiRegion.swift has AWS's
/// rules): the parts of an import, a deletion or a rotation that reach the related keys.
extension KMSService {
    /// The other keys of `record`'s multi-Region family, as stored now (their row versions are
    /// what the change is checked against), with their imported materials; empty for a key
    /// that is not multi-Region or has never been replicated.
    func relatedImportedKeys(of record: KeyRecord) async throws(KMSError)
        -> [(record: KeyRecord, materials: [ImportedMaterial])]
    {
        guard record.keyID.isMultiRegion else { return [] }
        let family = try await self.multiRegionConfiguration(of: record)
        var related: [(record: KeyRecord, materials: [ImportedMaterial])] = []
        for region in Set([family.primaryRegion] + family.replicaRegions).sorted() where region != record.region {
            let id = record.keyID.inRegion(region)
            guard let (other, _) = try await self.store({ try await self.stores.keys.fetch(keyID: id) }) else {
                continue
            }
            let listed = try await self.store { try await self.stores.keys.importedMaterials(keyID: id) }
            related.append((other, listed))
        }
        return related
    }

    /// An import that binds new material to one key of a family lists it in every other.
    func withRelatedListing(_ change: ImportedMaterialChange, listedBefore: [ImportedMaterial])
        async throws(KMSError) -> ImportedMaterialChange
    {
        guard let id = change.materialID, change.record.keyID.isMultiRegion,
            !listedBefore.contains(where: { $0.materialID == id }),
            let material = change.materials.first(where: { $0.materialID == id })
        else { return change }
        var withRelated = change
        withRelated.related = try await self.relatedImportedKeys(of: change.record).map {
            ImportedMaterialRules.listing(material, in: $0.record, materials: $0.materials)
        }
        return withRelated
    }

    /// Deleting the primary's material that is pending rotation deletes it from the replicas
    /// too, as at AWS; any other deletion stays with the key it was asked of.
    func withRelatedDeletion(_ change: ImportedMaterialChange, listedBefore: [ImportedMaterial])
        async throws(KMSError) -> ImportedMaterialChange
    {
        guard let id = change.materialID, change.record.keyID.isMultiRegion, !change.record.isReplica,
            listedBefore.contains(where: { $0.materialID == id && $0.isPendingRotation })
        else { return change }
        var withRelated = change
        withRelated.related = try await self.relatedImportedKeys(of: change.record).map {
            ImportedMaterialRules.expiring([id], of: $0.record, materials: $0.materials)
        }
        return withRelated
    }

    /// A multi-Region primary's rotation rotates every replica, once each has imported the material.
    func withRelatedRotation(_ change: ImportedMaterialChange) async throws(KMSError) -> ImportedMaterialChange {
        guard let id = change.rotatedTo, change.record.keyID.isMultiRegion else { return change }
        var withRelated = change
        withRelated.related = try ImportedMaterialRules.rotatingReplicas(
            to: id, try await self.relatedImportedKeys(of: change.record))
        return withRelated
    }
}
