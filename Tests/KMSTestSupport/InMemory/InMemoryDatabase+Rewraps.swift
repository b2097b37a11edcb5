import Foundation
import KMSDomain
import KMSServer
import KMSStore

/// Re-wrap jobs and the blobs they move, as RewrapStore reads and changes them: at most one
/// job runs (the partial unique index), blobs are replaced only if unchanged since read, and
/// the advisory lock excludes other callers on the same database.
extension InMemoryDatabase: RewrapStoring {
    /// RewrapStore.start: INSERT ... ON CONFLICT DO NOTHING against the running job, then the
    /// latest job.
    public func start(requestedBy: String, at date: Date, audit: PendingAudit?) async throws
        -> (RewrapStore.Job, Bool)
    {
        let started = try self.change(recording: audit, effective: { $0 }) { tables in
            tables.rewrapJobSequence += 1
            guard !tables.rewrapJobs.values.contains(where: { $0.job.finishedAt == nil }) else { return false }
            let id = tables.rewrapJobSequence
            tables.rewrapJobs[id] = Tables.RewrapJobRow(
                job: RewrapStore.Job(
                    id: id, requestedAt: SQL.timestamptz(date), finishedAt: nil, rewrapped: 0, unavailable: 0),
                requestedBy: requestedBy)
            return true
        }
        guard let job = try await self.latest() else { throw StoreError.invalid("no re-wrap job after starting one") }
        return (job, started)
    }

    /// RewrapStore.latest: the largest job id.
    public func latest() async throws -> RewrapStore.Job? {
        self.read { tables in tables.rewrapJobs.max { $0.key < $1.key }?.value.job }
    }

    /// RewrapStore.progress: `finished` nil clears `finished_at`, as the UPDATE sets it.
    public func progress(job: Int64, rewrapped: Int64, unavailable: Int64, finished: Date?) async throws {
        try self.change(recording: nil) { tables in
            guard var row = tables.rewrapJobs[job] else { return }
            let (total, overflow) = row.job.rewrapped.addingReportingOverflow(rewrapped)
            guard !overflow else { throw Refused("bigint out of range") }
            row.job.rewrapped = total
            row.job.unavailable = unavailable
            row.job.finishedAt = SQL.timestamptz(finished)
            tables.rewrapJobs[job] = row
        }
    }

    /// RewrapStore.materials: no ORDER BY, so in any order (here by key id, then version).
    public func materials(notUnder newest: UUID, skipping missing: [UUID], limit: Int) async throws
        -> [RewrapStore.MaterialRow]
    {
        try SQL.checkPage(limit: limit)
        return self.read { tables in
            var found: [RewrapStore.MaterialRow] = []
            for (keyID, rows) in tables.materials.sorted(by: { $0.key < $1.key }) {
                guard let key = tables.keys[keyID] else { continue }
                for row in rows {
                    // A token key (no root key) is nothing to re-wrap, as SQL's <> on NULL says.
                    guard let root = row.material.rootKeyID, root != newest, !missing.contains(root),
                        found.count < limit
                    else { continue }
                    found.append(
                        RewrapStore.MaterialRow(
                            keyID: keyID, keyARN: key.arn, materialID: row.material.materialID,
                            wrapped: row.material.wrapped))
                }
            }
            return found
        }
    }

    /// RewrapStore.replaceMaterial: only while the blob is the one read.
    public func replaceMaterial(_ row: RewrapStore.MaterialRow, wrapped: [UInt8], rootKeyID: UUID) async throws
        -> Bool
    {
        try self.change(recording: nil) { tables in
            guard
                let index = tables.materials[row.keyID]?.firstIndex(where: {
                    $0.material.materialID == row.materialID && $0.material.wrapped == row.wrapped
                })
            else { return false }
            tables.materials[row.keyID]?[index].material = StoredMaterial(
                materialID: row.materialID, wrapped: wrapped, rootKeyID: rootKeyID)
            return true
        }
    }

    /// RewrapStore.secrets: no ORDER BY, so in any order (here insertion order).
    public func secrets(notUnder newest: UUID, skipping missing: [UUID], limit: Int) async throws
        -> [RewrapStore.SecretRow]
    {
        try SQL.checkPage(limit: limit)
        return self.read { tables in
            tables.accessKeys.filter { $0.rootKeyID != newest && !missing.contains($0.rootKeyID) }.prefix(limit).map {
                RewrapStore.SecretRow(
                    accessKeyID: $0.key.accessKeyID, principalARN: $0.key.principalARN, wrapped: $0.key.wrappedSecret)
            }
        }
    }

    /// RewrapStore.replaceSecret: only while the secret is the one read.
    public func replaceSecret(_ row: RewrapStore.SecretRow, wrapped: [UInt8], rootKeyID: UUID) async throws -> Bool {
        try self.change(recording: nil) { tables in
            guard
                let index = tables.accessKeys.firstIndex(where: {
                    SQLText($0.key.accessKeyID) == SQLText(row.accessKeyID) && $0.key.wrappedSecret == row.wrapped
                })
            else { return false }
            tables.accessKeys[index].key.wrappedSecret = wrapped
            tables.accessKeys[index].rootKeyID = rootKeyID
            return true
        }
    }

    /// RewrapStore.usage.
    public func usage() async throws -> [UUID: (materials: Int64, secrets: Int64)] {
        self.read { tables in
            var usage: [UUID: (materials: Int64, secrets: Int64)] = [:]
            for row in tables.materials.values.joined() {
                guard let root = row.material.rootKeyID else { continue }
                usage[root, default: (0, 0)].materials += 1
            }
            for row in tables.accessKeys { usage[row.rootKeyID, default: (0, 0)].secrets += 1 }
            return usage
        }
    }

    /// RewrapStore.exclusively: nil while another caller holds the lock; released when `body`
    /// ends, however it ends.
    public func exclusively<T: Sendable>(_ body: () async throws -> T) async throws -> T? {
        let taken = self.state.withLock { tables in
            guard !tables.rewrapLockHeld else { return false }
            tables.rewrapLockHeld = true
            return true
        }
        guard taken else { return nil }
        defer { self.state.withLock { $0.rewrapLockHeld = false } }
        return try await body()
    }
}
