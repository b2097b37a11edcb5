import Foundation
import KMSDomain
import KMSStore

extension InMemoryDatabase {
    /// KeyStore.reapDue: at most this many keys deleted, and as many materials expired, a round.
    static let reapBatch = 500

    /// KeyStore.reapDue in one step under the lock (which stands for the advisory lock: always
    /// held). Deletes keys PendingDeletion whose deletion date is at or before the cutoff, the
    /// earliest first, with their cascades, keeping a tombstone per ARN (the first one kept
    /// wins, ON CONFLICT DO NOTHING); then expires imported material whose ValidTo passed.
    public func reapDue(serviceNow: Date) async throws -> ReapRound {
        let databaseNow = self.now
        return self.state.withLock { tables in
            let cutoff = KeySchedule.destructionCutoff(service: serviceNow, database: databaseNow)
            let bound = SQL.timestamptz(cutoff)
            var round = ReapRound(held: true, cutoff: cutoff, databaseNow: databaseNow)
            let due = tables.keys.filter { _, key in
                key.state == .pendingDeletion && key.deletionDate.map { $0 <= bound } == true
            }
            .sorted { Self.earlier($0.value.deletionDate!, $0.key, than: $1.value.deletionDate!, $1.key) }
            .prefix(Self.reapBatch)
            for (id, key) in due {
                // PostgreSQL subtracts whole days of its session's time zone: 86,400 s in UTC.
                let window = -Int64(key.pendingWindowInDays ?? 0) * 86_400
                let tombstone = DeletedKey(
                    arn: key.arn, account: key.account, region: key.region, spec: key.spec, manager: key.manager,
                    creationDate: key.creationDate,
                    scheduledAt: SQL.timestamptz(key.deletionDate!, plusSeconds: window),
                    deletedAt: bound, rotationDates: (tables.rotations[id] ?? []).map(\.date).sorted())
                if tables.deletedKeys[SQLText(key.arn)] == nil { tables.deletedKeys[SQLText(key.arn)] = tombstone }
                if let store = key.customKeyStoreID {
                    for row in tables.materials[id] ?? [] where row.material.isTokenKey {
                        round.deletedTokenKeys.append(
                            DeletedTokenKey(
                                keyID: key.keyID, arn: key.arn, customKeyStoreID: store,
                                materialID: row.material.materialID))
                    }
                }
                tables.deleteKey(id)
                round.deletedKeys.append((key.keyID, key.arn))
            }
            let expired = tables.keys.filter { _, key in key.validTo.map { $0 <= bound } == true }
                .sorted { Self.earlier($0.value.validTo!, $0.key, than: $1.value.validTo!, $1.key) }
                .prefix(Self.reapBatch)
            for (id, var key) in expired {
                if key.state != .pendingDeletion { key.state = .pendingImport }
                key.validTo = nil  // the expiration model stays, as the SQL leaves it
                key.version += 1
                tables.keys[id] = key
                tables.materials[id]?.removeAll { $0.material.materialID == key.currentMaterialID }
                for index in (tables.importedMaterials[id] ?? []).indices
                where tables.importedMaterials[id]![index].materialID == key.currentMaterialID {
                    tables.importedMaterials[id]![index].isImported = false
                    tables.importedMaterials[id]![index].validTo = nil
                }
                round.expiredMaterial.append(key.arn)
            }
            Self.expireOtherMaterials(&tables, before: bound, into: &round)
            return round
        }
    }

    /// ORDER BY a date; PostgreSQL leaves ties in no particular order, here by key id.
    static func earlier(_ a: Date, _ aID: KeyID, than b: Date, _ bID: KeyID) -> Bool {
        a != b ? a < b : aID < bID
    }

    /// The reaper's second statement: non-current imported materials past their ValidTo, the
    /// earliest first. One pending rotation goes entirely; any other is listed PENDING_IMPORT
    /// and its key goes to PendingImport (PendingDeletion stays).
    static func expireOtherMaterials(_ tables: inout Tables, before bound: Date, into round: inout ReapRound) {
        let due = tables.importedMaterials.flatMap { id, list in
            list.filter { entry in
                entry.validTo.map { $0 <= bound } == true && entry.materialID != tables.keys[id]?.currentMaterialID
            }.map { (id, $0) }
        }
        .sorted { Self.earlier($0.1.validTo!, $0.0, than: $1.1.validTo!, $1.0) }
        .prefix(Self.reapBatch)
        var touched: [KeyID: Bool] = [:]
        for (id, entry) in due {
            tables.materials[id]?.removeAll { $0.material.materialID == entry.materialID }
            if entry.isPendingRotation {
                tables.importedMaterials[id]?.removeAll { $0.materialID == entry.materialID }
            } else if let index = tables.importedMaterials[id]?.firstIndex(where: { $0.materialID == entry.materialID })
            {
                tables.importedMaterials[id]![index].isImported = false
                tables.importedMaterials[id]![index].validTo = nil
            }
            touched[id] = (touched[id] ?? false) || !entry.isPendingRotation
        }
        for (id, bound) in touched.sorted(by: { $0.key < $1.key }) {
            guard var key = tables.keys[id] else { continue }
            if bound, key.state != .pendingDeletion { key.state = .pendingImport }
            key.version += 1
            tables.keys[id] = key
            round.expiredMaterial.append(key.arn)
        }
    }
}
