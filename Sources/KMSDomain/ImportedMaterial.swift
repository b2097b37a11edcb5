import struct Foundation.Date

/// Whether ImportKeyMaterial brings material the key had before or new material for an
/// on-demand rotation (AWS's ImportType).
public enum ImportType: String, Sendable, CaseIterable {
    case newKeyMaterial = "NEW_KEY_MATERIAL"
    case existingKeyMaterial = "EXISTING_KEY_MATERIAL"
}

/// How one material relates to its key (AWS's KeyMaterialState).
public enum KeyMaterialState: String, Sendable, CaseIterable {
    case current = "CURRENT"
    case nonCurrent = "NON_CURRENT"
    case pendingRotation = "PENDING_ROTATION"
    /// New material of a multi-Region primary key that some replica has not imported yet
    /// (RotateKeyOnDemand waits for every replica).
    case pendingMultiRegionImportAndRotation = "PENDING_MULTI_REGION_IMPORT_AND_ROTATION"
}

/// One material imported into a key of origin EXTERNAL, with what ListKeyRotations shows of
/// it. The wrapped material itself is stored apart, and only while `isImported`.
public struct ImportedMaterial: Sendable, Hashable {
    /// Derived from the material and the key ARN by the crypto worker: the same material
    /// imported again has the same id, and material the key never had has another.
    public var materialID: MaterialID
    /// The caller's KeyMaterialDescription; kept when a later import gives none.
    public var description: String
    /// When the material expires (KEY_MATERIAL_EXPIRES); nil once deleted or expired.
    public var validTo: Date?
    /// The expiration model of its latest import.
    public var expirationModel: ExpirationModel?
    /// ImportState IMPORTED (true) or PENDING_IMPORT (deleted or expired, waiting to be re-imported).
    public var isImported: Bool
    /// Imported with NEW_KEY_MATERIAL and waiting for RotateKeyOnDemand; not yet bound to the key.
    public var isPendingRotation: Bool
    /// When it was first imported into the key (the order ListKeyRotations keeps).
    public var importedAt: Date

    /// A material as stored.
    public init(
        materialID: MaterialID, description: String = "", validTo: Date?, expirationModel: ExpirationModel?,
        isImported: Bool, isPendingRotation: Bool, importedAt: Date
    ) {
        self.materialID = materialID
        self.description = description
        self.validTo = validTo
        self.expirationModel = expirationModel
        self.isImported = isImported
        self.isPendingRotation = isPendingRotation
        self.importedAt = importedAt
    }

    /// CURRENT, NON_CURRENT or PENDING_ROTATION for `record`, the key it belongs to.
    public func state(in record: KeyRecord) -> KeyMaterialState {
        if self.isPendingRotation { return .pendingRotation }
        return self.materialID == record.currentMaterialID ? .current : .nonCurrent
    }
}

/// What an import, a deletion, an expiry or a rotation of imported material changes, for the
/// store to apply all at once: the key (at the version it was read at), the whole list of its
/// imported materials, and the wrapped blobs to drop.
public struct ImportedMaterialChange: Sendable, Hashable {
    /// The key as it is to be stored; `version` is the one it was read at.
    public var record: KeyRecord
    /// Every imported material of the key after the change.
    public var materials: [ImportedMaterial]
    /// Materials whose wrapped blob goes (deleted, expired, or a pending one dropped).
    public var removed: [MaterialID]
    /// The material a rotation made current, for the store to record the rotation.
    public var rotatedTo: MaterialID?
    /// The material the request named or imported (DeleteImportedKeyMaterial's KeyMaterialId).
    public var materialID: MaterialID?
    /// The same change's part in related multi-Region keys (a material newly bound, rotated or
    /// dropped in the whole family), applied in the same transaction: all or nothing.
    public var related: [ImportedMaterialChange] = []

    /// A change as the rules compute it.
    public init(
        record: KeyRecord, materials: [ImportedMaterial], removed: [MaterialID] = [], rotatedTo: MaterialID? = nil,
        materialID: MaterialID? = nil
    ) {
        self.record = record
        self.materials = materials
        self.removed = removed
        self.rotatedTo = rotatedTo
        self.materialID = materialID
    }
}
