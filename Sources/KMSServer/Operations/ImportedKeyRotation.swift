import Foundation
import KMSDomain
import KMSProto
import KMSStore
import SwiftProtobuf

/// On-demand rotation of symmetric keys of origin EXTERNAL, and the entries ListKeyRotations
/// shows: a rotation makes the material imported with NEW_KEY_MATERIAL current; the former
/// current material stays for Decrypt.
extension KMSService {
    /// Makes the key's material pending rotation current and records an ON_DEMAND rotation. Nil
    /// when the key changed meanwhile.
    func rotateImported(_ record: KeyRecord, caller: Caller) async throws(KMSError) -> KeyRecord? {
        let listed = try await self.store { try await self.stores.keys.importedMaterials(keyID: record.keyID) }
        let change = try await self.withRelatedRotation(try ImportedMaterialRules.rotating(record, materials: listed))
        let now = self.now()
        let audit = self.changeRecord(caller)
        let rotated = try await self.store {
            try await self.stores.keys.changeImportedMaterial(change, adding: nil, at: now, audit: audit)
        }
        if let rotated {
            self.cache.invalidateKey(rotated.keyID)
            for part in change.related { self.cache.invalidateKey(part.record.keyID) }
            self.logger.notice(
                "rotated key",
                metadata: [
                    "key_arn": "\(rotated.arn)", "type": "ON_DEMAND",
                    "material": "\(change.rotatedTo?.hex ?? "")",
                ])
        }
        return rotated
    }

    /// Every entry ListKeyRotations may show for the key, in order: with `allMaterial`, the
    /// first material (no rotation date) first; then each rotation, oldest first; with
    /// `allMaterial`, material pending rotation last. Entries of EXTERNAL keys also carry the
    /// material's description, import state and expiry.
    func rotationEntries(of key: CachedKey, allMaterial: Bool) async throws(KMSError) -> [KMSRotationsListEntry] {
        let record = key.record
        let rotations = try await self.store {
            try await self.stores.rotations.rotations(keyID: record.keyID, offset: 0, limit: 10_000)
        }
        var imported: [ImportedMaterial] = []
        if record.origin == .external {
            let listed = try await self.store { try await self.stores.keys.importedMaterials(keyID: record.keyID) }
            imported = ImportedMaterialRules.materials(of: record, stored: listed)
        }
        // A primary's new material is PENDING_MULTI_REGION_IMPORT_AND_ROTATION until every replica has it.
        var replicaLists: [[ImportedMaterial]] = []
        if record.origin == .external, record.keyID.isMultiRegion, !record.isReplica {
            replicaLists = try await self.relatedImportedKeys(of: record).map(\.materials)
        }
        let rotated = Set(rotations.map(\.materialID))
        var entries: [KMSRotationsListEntry] = []
        func entry(_ id: MaterialID, rotation: RotationRecord?) -> KMSRotationsListEntry {
            var entry = KMSRotationsListEntry()
            entry.keyID = record.keyID.description
            entry.keyMaterialID = id.hex
            let state: KeyMaterialState = id == record.currentMaterialID ? .current : .nonCurrent
            entry.keyMaterialState = KMSKeyMaterialState(awsName: state.rawValue) ?? .unspecified
            if let rotation {
                entry.rotationDate = Google_Protobuf_Timestamp(date: rotation.date)
                entry.rotationType = KMSRotationType(awsName: rotation.kind.rawValue) ?? .unspecified
            }
            if let material = imported.first(where: { $0.materialID == id }) {
                Self.describe(material, of: record, in: &entry)
                if !replicaLists.isEmpty {
                    let state = ImportedMaterialRules.state(of: material, in: record, replicas: replicaLists)
                    entry.keyMaterialState = KMSKeyMaterialState(awsName: state.rawValue) ?? .unspecified
                }
            }
            return entry
        }
        if allMaterial {
            if record.origin == .external {
                for material in imported where !material.isPendingRotation && !rotated.contains(material.materialID) {
                    entries.append(entry(material.materialID, rotation: nil))
                }
            } else {
                for id in key.materials.keys.sorted(by: { $0.hex < $1.hex }) where !rotated.contains(id) {
                    entries.append(entry(id, rotation: nil))
                }
            }
        }
        for rotation in rotations { entries.append(entry(rotation.materialID, rotation: rotation)) }
        if allMaterial {
            for material in imported where material.isPendingRotation {
                entries.append(entry(material.materialID, rotation: nil))
            }
        }
        return entries
    }

    /// What an entry shows of an imported material: its state, description, import state and
    /// expiry (ValidTo only with KEY_MATERIAL_EXPIRES, as botocore's RotationsListEntry says).
    static func describe(_ material: ImportedMaterial, of record: KeyRecord, in entry: inout KMSRotationsListEntry) {
        entry.keyMaterialState = KMSKeyMaterialState(awsName: material.state(in: record).rawValue) ?? .unspecified
        if !material.description.isEmpty { entry.keyMaterialDescription = material.description }
        entry.importState = material.isImported ? .imported : .pendingImport
        if let model = material.expirationModel {
            entry.expirationModel = KMSExpirationModel(awsName: model.rawValue) ?? .unspecified
        }
        if material.expirationModel == .keyMaterialExpires, let validTo = material.validTo {
            entry.validTo = Google_Protobuf_Timestamp(date: validTo)
        }
    }
}
