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

    private struct State {
        /// Uses not yet written.
        var pending: [String: Use] = [:]
        /// The last batch taken for writing: answered from memory while its write is in flight
        /// and one interval after, so no answer misses a use the database does not have yet.
        var recent: [String: KeyUsageRecord] = [:]
    }

    private let state = Mutex(State())
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
        self.state.withLock { $0.pending[keyID] = use }
    }

    /// The latest use this kmsd has seen and not yet flushed (or flushed lately).
    func latest(keyID: String) -> KeyUsageRecord? {
        self.state.withLock { $0.pending[keyID]?.record ?? $0.recent[keyID] }
    }

    public func run() async throws {
        await Periodic.flushes(every: self.interval) { await self.flush() }
    }

    func flush() async {
        // Taken and kept as `recent` under one lock: before, a use taken for writing was in
        // neither map until its write committed, and GetKeyLastUsage could miss it.
        let taken = self.state.withLock { state -> [String: Use] in
            let taken = state.pending
            guard !taken.isEmpty else { return taken }
            state.pending.removeAll(keepingCapacity: true)
            state.recent = taken.mapValues(\.record)
            return taken
        }
        guard !taken.isEmpty else { return }
        let batch = taken.mapValues(\.record)
        do {
            try await self.store.record(batch)
        } catch {
            self.logger.warning("writing key last use failed; retrying next round", metadata: ["keys": "\(batch.count)", "error": "\(String(reflecting: error))"])
            self.state.withLock { state in
                for (key, use) in taken where (state.pending[key]?.date ?? .distantPast) < use.date { state.pending[key] = use }
            }
        }
    }
}
