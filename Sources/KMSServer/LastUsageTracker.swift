import Foundation
import KMSDomain
import KMSStore
import Logging
import ServiceLifecycle
import Synchronization

/// Remembers each key's last successful cryptographic use in memory (one short lock per
/// request, no database write) and writes them in one batch every `interval`. A crash loses at
/// most the uses of the last interval; GetKeyLastUsage reads memory first, so this kmsd's own
/// answers are always current. The decisions are LastUseBuffer's; this is the shell.
public final class LastUsageTracker: Service, Sendable {
    private let buffer = Mutex(LastUseBuffer())
    /// `run` has made its last flush.
    private let stopped = Atomic(false)
    let write: @Sendable ([KeyID: KeyUsageRecord]) async throws -> Void
    let interval: Duration
    let clock: ServiceClock
    let logger: Logger

    /// A tracker writing to `store` every `interval`.
    public convenience init(
        store: any LastUsageStoring, interval: Duration, clock: ServiceClock = .system, logger: Logger
    ) {
        self.init(interval: interval, clock: clock, logger: logger) { batch in
            try await backgroundCall { () async throws -> Void in try await store.record(batch) }
        }
    }

    /// `write` stores a batch (a test's fake in unit tests).
    init(
        interval: Duration, clock: ServiceClock, logger: Logger,
        write: @escaping @Sendable ([KeyID: KeyUsageRecord]) async throws -> Void
    ) {
        self.write = write
        self.interval = interval
        self.clock = clock
        self.logger = logger
    }

    /// `requestID` is the request's id in the audit log, so the two can be matched.
    func record(keyID: KeyID, operation: String, requestID: String) {
        let use = KeyUsageRecord(operation: operation, date: self.clock.wallNow, requestID: requestID)
        self.buffer.withLock { $0.record(keyID: keyID, use) }
    }

    /// The latest use this kmsd has seen and not yet flushed (or flushed lately).
    func latest(keyID: KeyID) -> KeyUsageRecord? {
        self.buffer.withLock { $0.latest(keyID: keyID) }
    }

    /// Writes the remembered uses every `interval` until a shutdown, and once more then.
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

    func flush() async {
        // Taken and kept as `recent` under one lock: a use taken for writing is never in
        // neither map, so GetKeyLastUsage cannot miss it.
        let batch = self.buffer.withLock { $0.takeBatch() }
        guard !batch.isEmpty else { return }
        do {
            try await self.write(batch)
        } catch {
            self.logger.warning(
                "writing key last use failed; retrying next round",
                metadata: ["keys": "\(batch.count)", "error": "\(String(reflecting: error))"])
            self.buffer.withLock { $0.writeFailed(batch) }
        }
    }
}
