import Foundation
import KMSDomain
import KMSStore

/// Aliases, unique by name within an account and region (AliasStore in PostgreSQL). Each change
/// stores `audit` with it only when it takes effect (a true answer), then calls
/// `audit.markCommitted()`; a false answer stored nothing. An alias goes when its key is
/// deleted (`KeyStoring.reapDue`).
public protocol AliasStoring: Sendable {
    /// Inserts an alias for `keyID`, created and last updated `now`; false when the name is
    /// taken in that account and region (whatever key it names).
    func create(account: String, region: String, name: String, keyID: KeyID, now: Date, audit: PendingAudit?)
        async throws -> Bool

    /// Points an existing alias at `keyID`, last updated `now`; false when there is no such alias.
    func update(account: String, region: String, name: String, keyID: KeyID, now: Date, audit: PendingAudit?)
        async throws -> Bool

    /// Deletes an alias; false when there was none.
    func delete(account: String, region: String, name: String, audit: PendingAudit?) async throws -> Bool

    /// The alias named `name` in that account and region (its ARN in the service's partition), or nil.
    func find(account: String, region: String, name: String) async throws -> AliasRecord?

    /// At most `limit` aliases of an account and region (with `keyID`, only those naming that
    /// key) in name order (byte order, whatever the collation), after name `marker` (exclusive; nil:
    /// from the first).
    func list(account: String, region: String, keyID: KeyID?, after marker: String?, limit: Int) async throws
        -> [AliasRecord]
}

extension AliasStore: AliasStoring {}
