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

    public func flush() async {
        let batch = self.counts.withLock { counts in
            let batch = counts
            counts.removeAll(keepingCapacity: true)
            return batch
        }
        guard !batch.isEmpty else { return }
        do {
            try await self.store.add(batch)
        } catch {
            self.logger.warning("writing usage counts failed; retrying next round", metadata: ["error": "\(String(reflecting: error))"])
            self.counts.withLock { counts in
                for (key, count) in batch {
                    counts[key, default: UsageCount()].requests += count.requests
                    counts[key, default: UsageCount()].failed += count.failed
                }
            }
        }
    }
}
