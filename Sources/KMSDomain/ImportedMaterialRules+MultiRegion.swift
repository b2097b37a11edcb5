/// AWS's rules for imported material in multi-Region keys. AWS never copies imported material
/// from one related key to another: each imports the same material itself, with its own expiry,
/// and their states are independent. What the family shares is which materials are bound: new
/// material is imported into the primary key (the very first material into any related key) and
/// is listed PENDING_IMPORT in the others, which may then import only that material;
/// RotateKeyOnDemand on the primary waits until every replica has imported the new material and
/// then rotates them all. Material ids agree across the family because multi-Region material is
/// bound to the key ARN without its region.
extension ImportedMaterialRules {
    /// New material imported with NEW_KEY_MATERIAL into a replica is refused, unless it is the
    /// family's first material (nothing bound anywhere yet).
    static func checkNewMaterial(into record: KeyRecord, first: Bool) throws(KMSError) {
        guard record.isReplica, !first else { return }
        throw KMSError(
            .unsupportedOperation,
            "\(record.arn) is a multi-Region replica key: new key material is imported into its primary key in "
                + "\(record.multiRegion?.primaryRegion ?? "its region"), then the same material into each replica with "
                + "ImportType EXISTING_KEY_MATERIAL.")
    }

    /// The change that lists `material`, just imported into a related key, in `record` as
    /// PENDING_IMPORT (pending rotation as it is there); the family's first material also
    /// becomes `record`'s current one, for `record` to import before it is usable.
    public static func listing(_ material: ImportedMaterial, in record: KeyRecord, materials stored: [ImportedMaterial])
        -> ImportedMaterialChange
    {
        var list = Self.materials(of: record, stored: stored)
        var updated = record
        if !list.contains(where: { $0.materialID == material.materialID }) {
            let first = list.isEmpty && record.currentMaterialID == nil
            list.append(
                ImportedMaterial(
                    materialID: material.materialID, description: material.description, validTo: nil,
                    expirationModel: nil, isImported: false, isPendingRotation: material.isPendingRotation && !first,
                    importedAt: material.importedAt))
            if first { updated.currentMaterialID = material.materialID }
        }
        Self.follow(&updated, list)
        return ImportedMaterialChange(record: updated, materials: list, materialID: material.materialID)
    }

    /// The replicas' part of the primary's rotation to `id`: refused (KMSInvalidState) unless
    /// every replica has imported that material.
    public static func rotatingReplicas(
        to id: MaterialID, _ replicas: [(record: KeyRecord, materials: [ImportedMaterial])]
    )
        throws(KMSError) -> [ImportedMaterialChange]
    {
        var changes: [ImportedMaterialChange] = []
        for (record, stored) in replicas {
            let list = Self.materials(of: record, stored: stored)
            guard list.contains(where: { $0.materialID == id && $0.isImported && $0.isPendingRotation }) else {
                throw KMSError(
                    .invalidState,
                    "Key material \(id.hex) is not imported into the replica key \(record.arn) yet: import it there "
                        + "with ImportType EXISTING_KEY_MATERIAL before rotating the multi-Region key.")
            }
            changes.append(try Self.rotating(record, materials: stored))
        }
        return changes
    }

    /// PENDING_MULTI_REGION_IMPORT_AND_ROTATION for a primary's material pending rotation that
    /// some replica has not imported; otherwise the material's own state.
    public static func state(
        of material: ImportedMaterial, in record: KeyRecord, replicas: [[ImportedMaterial]]
    ) -> KeyMaterialState {
        let own = material.state(in: record)
        guard own == .pendingRotation else { return own }
        let everywhere = replicas.allSatisfy { list in
            list.contains { $0.materialID == material.materialID && $0.isImported }
        }
        return everywhere ? own : .pendingMultiRegionImportAndRotation
    }
}
