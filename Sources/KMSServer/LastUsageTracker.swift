import Foundation
import KMSStore
import Logging
import ServiceLifecycle
import Synchronization

/// Remembers each key's last successful cryptographic use in memory (one short lock per
/// request, no database write) and writes them in one batch every `interval`. A crash loses at
/// most the uses of the last interval; GetKeyLastUsage reads memory first, so this kmsd's own
/// answers are always current.
public final class LastUsageTracker: Service, Sendable {
    private struct Use {
        let operation: String
        let date: Date
        let requestID: String

        var record: KeyUsageRecord {
            KeyUsageRecord(operation: self.operation, date: self.date, requestID: self.requestID)
        }
    }

    private let pending = Mutex<[String: Use]>([:])
    private let recent = Mutex<[String: KeyUsageRecord]>([:])
    let store: LastUsageStore
    let interval: Duration
    let logger: Logger

    public init(store: LastUsageStore, interval: Duration, logger: Logger) {
        self.store = store
        self.interval = interval
        self.logger = logger
    }

    /// `requestID` is the request's id in the audit log, so the two can be matched.
    func record(keyID: String, operation: String, requestID: String) {
        let use = Use(operation: operation, date: Date(), requestID: requestID)
        self.pending.withLock { $0[keyID] = use }
    }

    /// The latest use this kmsd has seen and not yet flushed (or flushed lately).
    func latest(keyID: String) -> KeyUsageRecord? {
        self.pending.withLock { $0[keyID] }?.record ?? self.recent.withLock { $0[keyID] }
    }

    public func run() async throws {
        await Periodic.flushes(every: self.interval) { await self.flush() }
    }

    func flush() async {
        let taken = self.pending.withLock { pending in
            let taken = pending
            pending.removeAll(keepingCapacity: true)
            return taken
        }
        guard !taken.isEmpty else { return }
        let batch = taken.mapValues(\.record)
        do {
            try await self.store.record(batch)
            // Kept one more interval, so an answer in between never goes backwards.
            self.recent.withLock { $0 = batch }
        } catch {
            self.logger.warning("writing key last use failed; retrying next round", metadata: ["keys": "\(batch.count)", "error": "\(String(reflecting: error))"])
            self.pending.withLock { pending in
                for (key, use) in taken where (pending[key]?.date ?? .distantPast) < use.date { pending[key] = use }
            }
        }
    }
}
