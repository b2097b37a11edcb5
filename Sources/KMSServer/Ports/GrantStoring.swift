import Foundation
import KMSDomain
import KMSStore

/// Grants (GrantStore in PostgreSQL). Each change stores `audit` with it only when it takes
/// effect (a true answer), then calls `audit.markCommitted()`. A grant goes when its key is
/// deleted (`KeyStoring.reapDue`).
public protocol GrantStoring: Sendable {
    /// Inserts a grant unless its key holds `GrantRecord.maximumPerKey` already: false (nothing
    /// stored) when it does. The count and the insert are one step, so concurrent inserts for
    /// one key do not pass the limit by more than PostgreSQL's READ COMMITTED lets them.
    func insert(_ grant: GrantRecord, audit: PendingAudit?) async throws -> Bool

    /// At most `limit` of the key's grants in grant id order, after grant id `marker`
    /// (exclusive; nil: from the first).
    func forKey(_ keyID: KeyID, after marker: String?, limit: Int) async throws -> [GrantRecord]

    /// At most `limit` of the key's grants that have this grant id and grantee principal (nil:
    /// any), in grant id order after grant id `marker` (exclusive; nil: from the first): ListGrants'
    /// filters, applied before the limit so that every page is full but the last.
    func forKey(_ keyID: KeyID, grantID: String?, granteePrincipal: String?, after marker: String?, limit: Int)
        async throws -> [GrantRecord]

    /// At most `limit` grants whose retiring principal is `principal`, in grant id order, after
    /// grant id `marker` (exclusive; nil: from the first), each with its key's ARN.
    func retirable(by principal: String, after marker: String?, limit: Int) async throws
        -> [(grant: GrantRecord, keyARN: String)]

    /// The grant with this id, or nil.
    func find(grantID: String) async throws -> GrantRecord?

    /// The grants with these ids that exist, in no particular order.
    func find(grantIDs: [String]) async throws -> [GrantRecord]

    /// Deletes a grant; false when there was none.
    func delete(grantID: String, audit: PendingAudit?) async throws -> Bool
}

extension GrantStore: GrantStoring {}
