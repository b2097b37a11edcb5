import Foundation
import KMSDomain
import KMSStore

/// Each key's last successful cryptographic use (LastUsageStore in PostgreSQL): written in
/// batches by `LastUsageTracker`, read by GetKeyLastUsage. The record goes when its key is deleted.
public protocol LastUsageStoring: Sendable {
    /// Writes a batch (key id → use), durably before it returns (the caller then drops it). A
    /// stored use is replaced only by a later one, so replicas and late batches never move it
    /// back; uses of keys that do not exist (any more) are dropped, not an error.
    func record(_ uses: [KeyID: KeyUsageRecord]) async throws

    /// The key's last recorded use; nil when it has none (or there is no such key).
    func lastUse(keyID: KeyID) async throws -> KeyUsageRecord?

    /// When tracking began (uses before it were not recorded); nil when unknown.
    func trackingStart() async throws -> Date?
}

extension LastUsageStore: LastUsageStoring {}
