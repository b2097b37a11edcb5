import Foundation
import KMSStore
import Logging
import ServiceLifecycle
import Synchronization

/// Request counts per account, key, operation and hour, added up in memory (one short lock
/// per request) and written in one statement every `interval`. A crash loses at most the last
/// interval's counts.
public final class UsageCounter: Service, Sendable {
    private let counts = Mutex<[UsageKey: UsageCount]>([:])
    /// Batches whose add failed, oldest first, each with the id it was first sent with.
    private let unsent = Mutex<[Batch]>([])
    let store: UsageStore
    let interval: Duration
    let logger: Logger

    public init(store: UsageStore, interval: Duration, logger: Logger) {
        self.store = store
        self.interval = interval
        self.logger = logger
    }

    func count(account: String, keyARN: String?, operation: String, failed: Bool) {
        let now = Date().timeIntervalSince1970
        let hour = Date(timeIntervalSince1970: now - now.truncatingRemainder(dividingBy: 3600))
        let key = UsageKey(account: account, keyARN: keyARN ?? "", operation: operation, hour: hour)
        self.counts.withLock { counts in
            counts[key, default: UsageCount()].requests += 1
            if failed { counts[key, default: UsageCount()].failed += 1 }
        }
    }

    public func run() async throws {
        await Periodic.flushes(every: self.interval) { await self.flush() }
    }

    /// Writes the counts gathered since the last flush. A batch that failed is kept with its
    /// id and sent again before the next one: it may have committed with only its answer lost,
    /// and the id makes the second add a no-op (UsageStore.add), where merging it into the next
    /// batch would count those requests twice.
    public func flush() async {
        let fresh = self.counts.withLock { counts in
            let batch = counts
            counts.removeAll(keepingCapacity: true)
            return batch
        }
        var batches = self.unsent.withLock { unsent in
            defer { unsent.removeAll() }
            return unsent
        }
        if !fresh.isEmpty { batches.append(Batch(id: UUID(), counts: fresh)) }
        var failed: [Batch] = []
        for (index, batch) in batches.enumerated() {
            do {
                try await self.store.add(batch.counts, id: batch.id)
            } catch {
                self.logger.warning("writing usage counts failed; retrying next round", metadata: ["error": "\(String(reflecting: error))"])
                // The rest are not tried now: the database is likely down for them too.
                failed = Array(batches[index...])
                break
            }
        }
        guard !failed.isEmpty else { return }
        let dropped = self.unsent.withLock { unsent -> Int in
            unsent.insert(contentsOf: failed, at: 0)
            let over = max(0, unsent.count - Self.maximumUnsent)
            unsent.removeFirst(over)
            return over
        }
        if dropped > 0 {
            self.logger.error("usage counts dropped: the database has refused them for too long", metadata: ["batches": "\(dropped)"])
        }
    }

    struct Batch: Sendable {
        var id: UUID
        var counts: [UsageKey: UsageCount]
    }

    /// Batches kept while the database refuses them: at the default 10 s, more than a day's.
    static let maximumUnsent = 10_000
}
