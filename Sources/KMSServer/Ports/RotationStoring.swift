import Foundation
import KMSDomain
import KMSStore

/// Key rotations and tags (RotationStore in PostgreSQL). Each change stores `audit` with it
/// only when it takes effect (a record or true returned; always, for `removeTags`), then calls
/// `audit.markCommitted()`. A key that does not exist has no rotations, tags or count: none or 0.
public protocol RotationStoring: Sendable {
    /// Makes `material` the key's current material (a new version, created at `date`), records
    /// the rotation (`kind`, `date`) and sets the next automatic date, all at once, if the key
    /// is still at `record.version`: returns the stored record (version + 1); nil when it is not.
    func rotate(
        _ record: KeyRecord, to material: StoredMaterial, kind: RotationRecord.Kind, at date: Date,
        nextRotationDate: Date?, audit: PendingAudit?
    ) async throws -> KeyRecord?

    /// At most `limit` of the key's rotations after the first `offset`, oldest first (by date,
    /// then material id).
    func rotations(keyID: KeyID, offset: Int, limit: Int) async throws -> [RotationRecord]

    /// How many on-demand rotations the key has had.
    func onDemandRotationCount(keyID: KeyID) async throws -> Int

    /// At most `limit` ids of Enabled keys whose next rotation date is at or before `now`, the
    /// longest due first.
    func due(now: Date, limit: Int) async throws -> [KeyID]

    /// The key's tags, by tag key.
    func tags(keyID: KeyID) async throws -> [(key: String, value: String)]

    /// Adds or replaces tags unless the key would then have more than `Tags.maximumPerKey`:
    /// false, and none of them stored, when it would. Concurrent calls for one key are
    /// serialized, so the limit holds.
    func putTagsWithinLimit(keyID: KeyID, _ tags: [(key: String, value: String)], audit: PendingAudit?)
        async throws -> Bool

    /// Removes the tags with these keys; absent ones are ignored.
    func removeTags(keyID: KeyID, _ keys: [String], audit: PendingAudit?) async throws
}

extension RotationStore: RotationStoring {}
