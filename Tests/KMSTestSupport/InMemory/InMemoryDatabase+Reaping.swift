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
                tables.materials[id] = []
                round.expiredMaterial.append(key.arn)
            }
            return round
        }
    }

    /// ORDER BY a date; PostgreSQL leaves ties in no particular order, here by key id.
    static func earlier(_ a: Date, _ aID: KeyID, than b: Date, _ bID: KeyID) -> Bool {
        a != b ? a < b : aID < bID
    }
}
