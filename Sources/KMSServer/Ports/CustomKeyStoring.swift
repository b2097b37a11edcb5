import Foundation
import KMSDomain
import KMSStore

/// Custom key stores (CustomKeyStoreStore in PostgreSQL). A set of stores without it serves
/// none: the custom key store operations answer UnsupportedOperationException.
///
/// What an implementation must keep: names are unique per account and region, and so are
/// external key stores' proxy URIs (`CustomKeyStoreWrite`); a change is all or nothing with
/// `audit`, and applies only at the record's row version, which it bumps; a store is deleted
/// only while no key lives in it.
public protocol CustomKeyStoring: Sendable {
    /// Inserts a new store whose ARN is `arn` (its wrapped secret under root key `rootKeyID`).
    func insert(_ store: CustomKeyStoreRecord, arn: String, rootKeyID: UUID?, audit: PendingAudit?) async throws
        -> CustomKeyStoreWrite
    /// Writes `store` over the stored one at `store.version`; `rootKeyID` of a new wrapped secret.
    func update(_ store: CustomKeyStoreRecord, rootKeyID: UUID?, audit: PendingAudit?) async throws
        -> CustomKeyStoreWrite
    /// Deletes `store` at its row version, unless keys live in it.
    func delete(_ store: CustomKeyStoreRecord, audit: PendingAudit?) async throws -> CustomKeyStoreDeletion
    /// Whether a key of the store is linked to the external key `xksKeyID`.
    func hasKey(in id: CustomKeyStoreID, xksKeyID: String) async throws -> Bool
    /// The store with this id, in any account.
    func fetch(_ id: CustomKeyStoreID) async throws -> CustomKeyStoreRecord?
    /// The store with this name in the account and region.
    func fetch(named name: String, account: String, region: String) async throws -> CustomKeyStoreRecord?
    /// The stores of the account and region in id order, after `marker`.
    func list(account: String, region: String, after marker: CustomKeyStoreID?, limit: Int) async throws
        -> [CustomKeyStoreRecord]
}

extension CustomKeyStoreStore: CustomKeyStoring {}
