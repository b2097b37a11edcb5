import Foundation
import KMSStore

/// Root key re-wrap jobs, and the stored blobs they move to the newest root key (RewrapStore in
/// PostgreSQL): the admin operations start a job and report on it, `RewrapJob` works on it.
/// The blobs are the key material versions (`KeyStoring`) and access key secrets
/// (`IdentityStoring`), each stored with the id of the root key it is wrapped under.
public protocol RewrapStoring: Sendable {
    /// Starts a job requested by `requestedBy` at `date` unless one is running (at most one
    /// runs at a time); returns the latest job and whether this call started it. `audit` is
    /// stored (and `audit.markCommitted()` called) only when it did.
    func start(requestedBy: String, at date: Date, audit: PendingAudit?) async throws -> (RewrapStore.Job, Bool)

    /// The most recent job (the largest id), running or finished; nil before the first.
    func latest() async throws -> RewrapStore.Job?

    /// Adds `rewrapped` to the job's count (a delta), sets `unavailable` (a total) and, when
    /// given, marks the job finished; durably before it returns.
    func progress(job: Int64, rewrapped: Int64, unavailable: Int64, finished: Date?) async throws

    /// At most `limit` material versions wrapped under neither `newest` nor any of `missing`.
    func materials(notUnder newest: UUID, skipping missing: [UUID], limit: Int) async throws
        -> [RewrapStore.MaterialRow]

    /// Replaces one material's blob and root key id if its blob is still `row.wrapped` (a
    /// concurrent change wins: false), durably before it returns.
    func replaceMaterial(_ row: RewrapStore.MaterialRow, wrapped: [UInt8], rootKeyID: UUID) async throws -> Bool

    /// At most `limit` access key secrets wrapped under neither `newest` nor any of `missing`.
    func secrets(notUnder newest: UUID, skipping missing: [UUID], limit: Int) async throws -> [RewrapStore.SecretRow]

    /// Replaces one secret and its root key id if it is still `row.wrapped` (a concurrent
    /// change wins: false), durably before it returns.
    func replaceSecret(_ row: RewrapStore.SecretRow, wrapped: [UInt8], rootKeyID: UUID) async throws -> Bool

    /// At most `limit` AWS_CLOUDHSM stores' token PINs wrapped under neither `newest` nor any of `missing`.
    func tokenPINs(notUnder newest: UUID, skipping missing: [UUID], limit: Int) async throws
        -> [RewrapStore.TokenPINRow]

    /// Replaces one token PIN and its root key id if it is still `row.wrapped` (a concurrent
    /// change wins: false), durably before it returns.
    func replaceTokenPIN(_ row: RewrapStore.TokenPINRow, wrapped: [UInt8], rootKeyID: UUID) async throws -> Bool

    /// Root key id → how many material versions and access key secrets are wrapped under it.
    func usage() async throws -> [UUID: (materials: Int64, secrets: Int64)]

    /// Runs `body` only if no other process is working on a job (nil when one is, and `body`
    /// did not run); the exclusion lasts for the whole of `body` and ends with it, whatever it did.
    func exclusively<T: Sendable>(_ body: () async throws -> T) async throws -> T?
}

extension RewrapStore: RewrapStoring {}

extension RewrapStoring {
    /// None, for stores that hold no AWS_CLOUDHSM key store.
    public func tokenPINs(notUnder newest: UUID, skipping missing: [UUID], limit: Int) async throws
        -> [RewrapStore.TokenPINRow]
    { [] }

    /// False, for stores that hold no AWS_CLOUDHSM key store.
    public func replaceTokenPIN(_ row: RewrapStore.TokenPINRow, wrapped: [UInt8], rootKeyID: UUID) async throws -> Bool
    {
        false
    }
}
