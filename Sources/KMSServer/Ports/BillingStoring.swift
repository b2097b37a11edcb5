import Foundation
import KMSStore

/// Keys as the usage report bills them (BillingStore in PostgreSQL), read by GetUsage. It reads
/// what other ports write: the keys (`KeyStoring`, with the tombstones `reapDue` keeps), their
/// rotations (`RotationStoring`) and the audit log.
public protocol BillingStoring: Sendable {
    /// The account's keys, live or pending deletion (billed until the deletion was scheduled:
    /// deletion date less the window), and those deleted at or after `from`; keys whose spec or
    /// manager this build does not know are left out.
    func keys(account: String, from: Date) async throws -> [BilledKey]

    /// Per key and operation, from the audit log: successful GenerateDataKey,
    /// GenerateDataKeyWithoutPlaintext and Decrypt calls in [from, to) on the account's keys
    /// (with `keyARN`, that key's), and how many would remain if each principal cached what it
    /// got for `cacheSeconds` (calls with the same principal and encryption context in the same
    /// window count once). In key ARN, then operation order.
    func cacheEstimate(
        account: String, keyARN: String?, from: Date, to: Date, cacheSeconds: Int
    ) async throws -> [(keyARN: String, operation: String, requests: Int64, withCache: Int64)]
}

extension BillingStore: BillingStoring {}
