import Foundation
import KMSStore

/// Request counters per account, key, operation and hour (UsageStore in PostgreSQL): added to
/// in batches by `UsageCounter`, summed by GetUsage.
public protocol UsageStoring: Sendable {
    /// Adds a batch of counts, durably before it returns, and only once per `id`: a batch sent
    /// again with the same id (the first answer was lost) adds nothing and returns false; an
    /// empty batch adds nothing and returns false. True when this call added it. Ids need be
    /// remembered only for a day.
    @discardableResult
    func add(_ counts: [UsageKey: UsageCount], id: UUID) async throws -> Bool

    /// Totals per key ARN and operation over the hours in [from, to) (each `UsageKey.hour` is
    /// `from`); with `keyARN`, only that key's.
    func totals(account: String, keyARN: String?, from: Date, to: Date) async throws -> [UsageKey: UsageCount]
}

extension UsageStore: UsageStoring {}
