import Foundation
import KMSDomain
import KMSStore

/// Keys and their material versions, as the service core reads and changes them (KeyStore in
/// PostgreSQL). What an implementation must keep:
///
/// - Every change is all or nothing, and takes `audit` (the request's record; nil: a change no
///   caller asked for) with it: when the change takes effect, the record is stored with it and
///   `audit.markCommitted()` is called once both are durable; when it does not (a taken alias,
///   a stale row version), neither is stored and the record stays uncommitted.
/// - Optimistic concurrency: `update` and `changeImportedMaterial` apply only
///   while the stored key is still at `record.version`; each success stores `version + 1` and
///   returns the stored record; nil means someone changed the key first (or there is no such
///   key), and the caller reads it again.
/// - Deleting a key (`reapDue`) deletes everything that hangs off it: its material versions,
///   aliases, grants, tags, rotations and last use (PostgreSQL's ON DELETE CASCADE).
public protocol KeyStoring: Sendable {
    /// Inserts a key with its first material (nil: none yet, a key pending import) and `tags`;
    /// with `alias`, also that alias for it, all or nothing: false (and nothing inserted) when
    /// the alias exists already in the key's account and region. Throws ExternalKeyInUse (and
    /// inserts nothing) when another key of the key's custom key store has its XksKeyId.
    @discardableResult
    func insert(
        _ key: KeyRecord, material: StoredMaterial?, alias: String?, tags: [(key: String, value: String)],
        audit: PendingAudit?
    ) async throws -> Bool

    /// The key and all its material versions, or nil when there is no such key.
    func fetch(keyID: KeyID) async throws -> (KeyRecord, [StoredMaterial])?

    /// The key with everything the key cache keeps of it: its material versions, its grants (by
    /// grant id), the names of the aliases in its account and region that point to it (the first
    /// `WholeKey.aliasLimit` by name, bytewise) and its tags (by tag key), all as of one moment;
    /// nil when there is no such key.
    func fetchWhole(keyID: KeyID) async throws -> WholeKey?

    /// At most `limit` keys of one account and region in key id order, after key id `marker`
    /// (exclusive; nil: from the first).
    func list(account: String, region: String, after marker: KeyID?, limit: Int) async throws -> [KeyRecord]

    /// Stores `record`'s changeable fields (description, state, deletion date and window,
    /// policy, current material id, rotation period and next date, ValidTo, expiration model)
    /// if the key is still at `record.version`; nil when it is not. The other fields never change.
    func update(_ record: KeyRecord, audit: PendingAudit?) async throws -> KeyRecord?

    /// The key's imported materials (origin EXTERNAL), the first imported first (then by id).
    func importedMaterials(keyID: KeyID) async throws -> [ImportedMaterial]

    /// Applies an import, deletion or on-demand rotation of imported material, if the key is
    /// still at `change.record.version`: the key's state, current material id, ValidTo and
    /// expiration model; the key's whole list of imported materials; `material`'s wrapped blob
    /// (replacing the same material's); the blobs of `change.removed` deleted; with
    /// `change.rotatedTo`, an ON_DEMAND rotation to it at `date`; then `change.related` (related
    /// multi-Region keys, each at its own version, without a blob), all or nothing. Nil when the
    /// key or a related one changed.
    func changeImportedMaterial(
        _ change: ImportedMaterialChange, adding material: StoredMaterial?, at date: Date, audit: PendingAudit?
    ) async throws -> KeyRecord?

    /// One round of the deletion reaper. Only one process runs a round at a time (`held` false:
    /// another did, and nothing was done). Windows count as passed at
    /// `KeySchedule.destructionCutoff(service: serviceNow, database:)` with the store's own
    /// clock. Deletes at most 500 keys PendingDeletion whose deletion date has passed, keeping
    /// for each a tombstone that `BillingStoring.keys` reads (ARN, account, region, spec,
    /// manager, creation date, when the deletion was scheduled, rotation dates); and deletes
    /// the material of at most 500 keys whose ValidTo has passed (state PendingImport unless
    /// PendingDeletion, ValidTo cleared, row version + 1, the material listed PENDING_IMPORT),
    /// then as many non-current imported materials past their ValidTo (one pending rotation is
    /// dropped, the key unchanged; any other is listed PENDING_IMPORT, the key PendingImport).
    /// Each re-checks state and date at the moment of deleting, so a CancelKeyDeletion that
    /// lands first always wins.
    func reapDue(serviceNow: Date) async throws -> ReapRound
}

extension KeyStore: KeyStoring {}
