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
    /// `run` has made its last flush.
    private let stopped = Atomic(false)
    let write: @Sendable ([UsageKey: UsageCount], UUID) async throws -> Void
    let interval: Duration
    let clock: ServiceClock
    let logger: Logger

    /// A counter writing to `store` every `interval`.
    public convenience init(
        store: any UsageStoring, interval: Duration, clock: ServiceClock = .system, logger: Logger
    ) {
        self.init(interval: interval, clock: clock, logger: logger) { batch, id in
            try await backgroundCall { () async throws -> Void in try await store.add(batch, id: id) }
        }
    }

    /// `write` stores a batch (a test's fake in unit tests).
    init(
        interval: Duration, clock: ServiceClock, logger: Logger,
        write: @escaping @Sendable ([UsageKey: UsageCount], UUID) async throws -> Void
    ) {
        self.write = write
        self.interval = interval
        self.clock = clock
        self.logger = logger
    }

    func count(account: String, keyARN: String?, operation: String, failed: Bool) {
        let now = self.clock.wallNow
        self.tally.withLock {
            $0.count(account: account, keyARN: keyARN, operation: operation, failed: failed, at: now)
        }
    }

    /// The counts not yet written (tests).
    var unwritten: [UsageKey: UsageCount] { self.tally.withLock { $0.unwritten } }

    /// Writes the counts every `interval` until a shutdown, and once more then.
    public func run() async throws {
        await Periodic.flushes(every: self.interval, clock: self.clock) { await self.flush() }
        self.stopped.store(true, ordering: .releasing)
    }

    /// kmsd's last flush, unless `run` made it when it stopped: one try per shutdown, so that a
    /// shutdown with PostgreSQL down does not wait out a second failed write.
    func flushUnlessStopped() async {
        guard !self.stopped.load(ordering: .acquiring) else { return }
        await self.flush()
    }

    /// Writes the counts gathered since the last flush, after the batches kept from failed
    /// writes, each with its own id (UsageTally.unsent).
    public func flush() async {
        let batches = self.tally.withLock { $0.takeBatches(id: UUID()) }
        for (index, batch) in batches.enumerated() {
            do {
                try await self.write(batch.counts, batch.id)
            } catch {
                self.logger.warning(
                    "writing usage counts failed; retrying next round",
                    metadata: ["error": "\(String(reflecting: error))"])
                // The rest are not tried now: the database is likely down for them too.
                let dropped = self.tally.withLock { $0.writeFailed(Array(batches[index...])) }
                if dropped > 0 {
                    self.logger.error(
                        "usage counts dropped: the database has refused them for too long",
                        metadata: ["batches": "\(dropped)"])
                }
                return
            }
        }
    }
}
