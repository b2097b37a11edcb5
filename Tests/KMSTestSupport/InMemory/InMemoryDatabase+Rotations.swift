import Foundation
import KMSDomain
import KMSServer
import KMSStore

/// Rotations and tags as RotationStore changes them.
extension InMemoryDatabase: RotationStoring {
    /// RotationStore.rotate: the key (if still at `record.version`), a new material version and
    /// the rotation row, all or nothing; a material id the key has had already violates both
    /// tables' primary keys, and the call throws with nothing changed.
    public func rotate(
        _ record: KeyRecord, to material: StoredMaterial, kind: RotationRecord.Kind, at date: Date,
        nextRotationDate: Date?, audit: PendingAudit?
    ) async throws -> KeyRecord? {
        let id = record.keyID
        return try self.change(recording: audit, effective: { $0 != nil }) { tables in
            guard var stored = tables.keys[id], stored.version == record.version else { return nil }
            guard !(tables.materials[id] ?? []).contains(where: { $0.material.materialID == material.materialID })
            else { throw Refused("duplicate key value violates kms_key_materials_pkey") }
            guard !(tables.rotations[id] ?? []).contains(where: { $0.materialID == material.materialID }) else {
                throw Refused("duplicate key value violates kms_key_rotations_pkey")
            }
            let date = SQL.timestamptz(date)
            stored.currentMaterialID = material.materialID
            stored.nextRotationDate = SQL.timestamptz(nextRotationDate)
            stored.version += 1
            tables.keys[id] = stored
            tables.materials[id, default: []].append(Tables.MaterialRow(material: material, createdAt: date))
            tables.rotations[id, default: []].append(
                RotationRecord(materialID: material.materialID, date: date, kind: kind))
            return stored
        }
    }

    /// RotationStore.rotations: ORDER BY rotation_date, material_id OFFSET LIMIT.
    public func rotations(keyID: KeyID, offset: Int, limit: Int) async throws -> [RotationRecord] {
        let id = keyID
        try SQL.checkPage(limit: limit, offset: offset)
        return self.read { tables in
            (tables.rotations[id] ?? [])
                .sorted { $0.date != $1.date ? $0.date < $1.date : SQL.less($0.materialID.bytes, $1.materialID.bytes) }
                .dropFirst(offset).prefix(limit).map { $0 }
        }
    }

    /// RotationStore.onDemandRotationCount.
    public func onDemandRotationCount(keyID: KeyID) async throws -> Int {
        let id = keyID
        return self.read { tables in (tables.rotations[id] ?? []).filter { $0.kind == .onDemand }.count }
    }

    /// RotationStore.due: Enabled keys whose next date is at or before `now`, the earliest first.
    public func due(now: Date, limit: Int) async throws -> [KeyID] {
        try SQL.checkPage(limit: limit)
        let bound = SQL.timestamptz(now)
        return self.read { tables in
            tables.keys.filter { _, key in key.state == .enabled && key.nextRotationDate.map { $0 <= bound } == true }
                .sorted { Self.earlier($0.value.nextRotationDate!, $0.key, than: $1.value.nextRotationDate!, $1.key) }
                .prefix(limit).map(\.key)
        }
    }

    /// RotationStore.tags: by tag key.
    public func tags(keyID: KeyID) async throws -> [(key: String, value: String)] {
        let id = keyID
        return self.read { tables in
            (tables.tags[id] ?? [:]).sorted { $0.key < $1.key }.map { (key: $0.key.value, value: $0.value) }
        }
    }

    /// RotationStore.putTagsWithinLimit: upserts in order (a key named twice: the last value),
    /// then counts; over `Tags.maximumPerKey`, nothing is kept. A tag for a key that does not
    /// exist violates the foreign key; an empty list changes nothing and succeeds.
    public func putTagsWithinLimit(keyID: KeyID, _ tags: [(key: String, value: String)], audit: PendingAudit?)
        async throws -> Bool
    {
        let id = keyID
        return try self.change(recording: audit, effective: { $0 }) { tables in
            if !tags.isEmpty { try tables.requireKey(id, for: "kms_tags") }
            var stored = tables.tags[id] ?? [:]
            for tag in tags { stored[SQLText(tag.key)] = tag.value }
            guard stored.count <= Tags.maximumPerKey else { return false }
            if !tags.isEmpty { tables.tags[id] = stored }
            return true
        }
    }

    /// RotationStore.removeTags: the record is stored whether or not any tag was there.
    public func removeTags(keyID: KeyID, _ keys: [String], audit: PendingAudit?) async throws {
        let id = keyID
        try self.change(recording: audit) { tables in
            for key in keys { tables.tags[id]?[SQLText(key)] = nil }
        }
    }
}
