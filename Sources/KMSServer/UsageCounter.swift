import Foundation
import KMSStore
import Logging
import ServiceLifecycle
import Synchronization

/// Request counts per account, key, operation and hour, added up in memory (one short lock
/// per request) and written in one statement every `interval`. A crash loses at most the last
/// interval's counts. The decisions are UsageTally's; this is the shell.
public final class UsageCounter: Service, Sendable {
    private let tally = Mutex(UsageTally())
    let write: @Sendable ([UsageKey: UsageCount]) async throws -> Void
    let interval: Duration
    let clock: ServiceClock
    let logger: Logger

    public convenience init(store: UsageStore, interval: Duration, clock: ServiceClock = .system, logger: Logger) {
        self.init(interval: interval, clock: clock, logger: logger) { batch in try await store.add(batch) }
    }

    /// `write` stores a batch (a test's fake in unit tests).
    init(interval: Duration, clock: ServiceClock, logger: Logger, write: @escaping @Sendable ([UsageKey: UsageCount]) async throws -> Void) {
        self.write = write
        self.interval = interval
        self.clock = clock
        self.logger = logger
    }

    func count(account: String, keyARN: String?, operation: String, failed: Bool) {
        let now = self.clock.wallNow
        self.tally.withLock { $0.count(account: account, keyARN: keyARN, operation: operation, failed: failed, at: now) }
    }

    /// The counts not yet written (tests).
    var unwritten: [UsageKey: UsageCount] { self.tally.withLock { $0.counts } }

    public func run() async throws {
        await Periodic.flushes(every: self.interval, clock: self.clock) { await self.flush() }
    }

    public func flush() async {
        let batch = self.tally.withLock { $0.takeBatch() }
        guard !batch.isEmpty else { return }
        do {
            try await self.write(batch)
        } catch {
            self.logger.warning("writing usage counts failed; retrying next round", metadata: ["error": "\(String(reflecting: error))"])
            self.tally.withLock { $0.writeFailed(batch) }
        }
    }
}
