import Foundation
import KMSDomain
import KMSServer
import KMSStore

/// Keys and material versions as KeyStore and ImportedMaterialStore change them.
extension InMemoryDatabase: KeyStoring {
    /// KeyStore.insert: the key, its material, its tags, then its alias; all or nothing.
    @discardableResult
    public func insert(
        _ key: KeyRecord, material: StoredMaterial?, alias: String?, tags: [(key: String, value: String)],
        audit: PendingAudit?
    ) async throws -> Bool {
        let id = key.keyID
        let now = self.now
        return try self.change(recording: audit, effective: { $0 }) { tables in
            guard tables.keys[id] == nil else { throw Refused("duplicate key value violates kms_keys_pkey") }
            guard !tables.keys.values.contains(where: { SQLText($0.arn) == SQLText(key.arn) }) else {
                throw Refused("duplicate key value violates kms_keys_arn_key")
            }
            // kms_keys_xks_key (Migration25).
            if let xksKeyID = key.xksKeyID, let store = key.customKeyStoreID,
                tables.keys.values.contains(where: {
                    $0.customKeyStoreID == store && $0.xksKeyID.map(SQLText.init) == SQLText(xksKeyID)
                })
            {
                throw ExternalKeyInUse()
            }
            var tagRows: [SQLText: String] = [:]
            for tag in tags {
                guard tagRows.updateValue(tag.value, forKey: SQLText(tag.key)) == nil else {
                    throw Refused("duplicate key value violates kms_tags_pkey")
                }
            }
            let aliasName = alias.map { Tables.AliasName(key.account, key.region, $0) }
            if let aliasName, tables.aliases[aliasName] != nil { return false }  // rolls the key back too
            tables.keys[id] = Self.stored(key)
            tables.materials[id] = material.map { [Tables.MaterialRow(material: $0, createdAt: now)] } ?? []
            if !tagRows.isEmpty { tables.tags[id] = tagRows }
            if let aliasName {
                let created = SQL.timestamptz(key.creationDate)
                tables.aliases[aliasName] = Tables.AliasRow(
                    targetKeyID: id, creationDate: created, lastUpdatedDate: created)
            }
            return true
        }
    }

    /// KeyStore.fetch.
    public func fetch(keyID: KeyID) async throws -> (KeyRecord, [StoredMaterial])? {
        let id = keyID
        return self.read { tables in
            tables.keys[id].map { ($0, (tables.materials[id] ?? []).map(\.material)) }
        }
    }

    /// KeyStore.fetchWhole: what fetch, forKey, list (the first `WholeKey.aliasLimit`) and tags
    /// read, in one snapshot.
    public func fetchWhole(keyID: KeyID) async throws -> WholeKey? {
        let id = keyID
        return self.read { tables in
            guard let record = tables.keys[id] else { return nil }
            let account = SQLText(record.account)
            let region = SQLText(record.region)
            let aliases = tables.aliases
                .filter { $0.key.account == account && $0.key.region == region && $0.value.targetKeyID == id }
                .map(\.key.name).sorted().prefix(WholeKey.aliasLimit).map(\.value)
            return WholeKey(
                record: record, materials: (tables.materials[id] ?? []).map(\.material),
                grants: Self.page(
                    tables.grants[id]?.values ?? [:].values, after: nil, limit: GrantRecord.maximumPerKey),
                aliases: aliases,
                tags: (tables.tags[id] ?? [:]).sorted { $0.key < $1.key }.map { (key: $0.key.value, value: $0.value) })
        }
    }

    /// KeyStore.list: `key_id > marker` (nil: the nil UUID) by key id.
    public func list(account: String, region: String, after marker: KeyID?, limit: Int) async throws -> [KeyRecord] {
        try SQL.checkPage(limit: limit)
        let after = marker ?? Self.nilKeyID
        return self.read { tables in
            tables.keys.values
                .filter { SQLText($0.account) == SQLText(account) && SQLText($0.region) == SQLText(region) }
                .filter { $0.keyID > after }
                .sorted { $0.keyID < $1.keyID }
                .prefix(limit).map { $0 }
        }
    }

    /// KeyStore.update: the changeable fields, if the row is still at `record.version`.
    public func update(_ record: KeyRecord, audit: PendingAudit?) async throws -> KeyRecord? {
        let id = record.keyID
        return try self.change(recording: audit, effective: { $0 != nil }) { tables in
            guard var stored = tables.keys[id], stored.version == record.version else { return nil }
            stored.description = record.description
            stored.state = record.state
            stored.deletionDate = SQL.timestamptz(record.deletionDate)
            stored.pendingWindowInDays = record.pendingWindowInDays
            stored.policy = record.policy
            stored.currentMaterialID = record.currentMaterialID
            stored.rotationPeriodInDays = record.rotationPeriodInDays
            stored.nextRotationDate = SQL.timestamptz(record.nextRotationDate)
            stored.validTo = SQL.timestamptz(record.validTo)
            stored.expirationModel = record.expirationModel
            stored.version += 1
            tables.keys[id] = stored
            return stored
        }
    }

    /// ImportedMaterialStore.importedMaterials: ORDER BY imported_at, material_id.
    public func importedMaterials(keyID: KeyID) async throws -> [ImportedMaterial] {
        let id = keyID
        return self.read { tables in
            (tables.importedMaterials[id] ?? []).sorted {
                $0.importedAt != $1.importedAt
                    ? $0.importedAt < $1.importedAt : SQL.less($0.materialID.bytes, $1.materialID.bytes)
            }
        }
    }

    /// ImportedMaterialStore.changeImportedMaterial: the key's fields, its list replaced, blobs
    /// removed and added (an added one replacing its namesake's blob, its creation date kept),
    /// and the rotation row, all or nothing.
    public func changeImportedMaterial(
        _ change: ImportedMaterialChange, adding material: StoredMaterial?, at date: Date, audit: PendingAudit?
    ) async throws -> KeyRecord? {
        try self.change(recording: audit, effective: { $0 != nil }) { tables in
            var staged = tables
            guard let stored = try Self.apply(change, adding: material, at: date, to: &staged) else { return nil }
            for part in change.related {
                guard try Self.apply(part, adding: nil, at: date, to: &staged) != nil else { return nil }
            }
            tables = staged
            return stored
        }
    }

    /// One key's part of `changeImportedMaterial`, on `tables`; nil when the key moved on.
    private static func apply(
        _ change: ImportedMaterialChange, adding material: StoredMaterial?, at date: Date, to tables: inout Tables
    ) throws -> KeyRecord? {
        let updated = change.record
        let id = updated.keyID
        guard var stored = tables.keys[id], stored.version == updated.version else { return nil }
        if let rotated = change.rotatedTo,
            (tables.rotations[id] ?? []).contains(where: { $0.materialID == rotated })
        {
            throw Refused("duplicate key value violates kms_key_rotations_pkey")
        }
        stored.state = updated.state
        stored.currentMaterialID = updated.currentMaterialID
        stored.validTo = SQL.timestamptz(updated.validTo)
        stored.expirationModel = updated.expirationModel
        stored.version += 1
        tables.keys[id] = stored
        tables.importedMaterials[id] = change.materials.map { entry in
            var row = entry
            row.validTo = SQL.timestamptz(entry.validTo)
            row.importedAt = SQL.timestamptz(entry.importedAt)
            return row
        }
        var blobs = (tables.materials[id] ?? []).filter { !change.removed.contains($0.material.materialID) }
        if let material {
            if let index = blobs.firstIndex(where: { $0.material.materialID == material.materialID }) {
                blobs[index].material = material
            } else {
                blobs.append(Tables.MaterialRow(material: material, createdAt: SQL.timestamptz(date)))
            }
        }
        tables.materials[id] = blobs
        if let rotated = change.rotatedTo {
            tables.rotations[id, default: []].append(
                RotationRecord(materialID: rotated, date: SQL.timestamptz(date), kind: .onDemand))
        }
        return stored
    }

    static let nilKeyID = KeyID(UUID(uuidString: "00000000-0000-0000-0000-000000000000")!)

    /// A key as kms_keys returns it: timestamps in microseconds.
    static func stored(_ key: KeyRecord) -> KeyRecord {
        var stored = key
        stored.creationDate = SQL.timestamptz(key.creationDate)
        stored.deletionDate = SQL.timestamptz(key.deletionDate)
        stored.nextRotationDate = SQL.timestamptz(key.nextRotationDate)
        stored.validTo = SQL.timestamptz(key.validTo)
        return stored
    }
}
