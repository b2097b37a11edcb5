import Logging
import ServiceLifecycle

/// When a periodic job next runs, as a value: each round starts `interval` after the last one
/// ended (on the monotonic clock), so a slow round pushes the next one back instead of starting
/// rounds back to back, and a wall-clock step neither hurries nor delays a round.
struct RoundSchedule: Sendable, Hashable {
    let interval: Duration
    /// When the next round starts.
    private(set) var next: ContinuousClock.Instant

    /// Rounds: the first at once. Flushes: the first one interval after `start`.
    init(interval: Duration, firstAt next: ContinuousClock.Instant) {
        self.interval = interval
        self.next = next
    }

    func isDue(at now: ContinuousClock.Instant) -> Bool { now >= self.next }

    /// A round (failed or not) ended at `now`.
    mutating func roundEnded(at now: ContinuousClock.Instant) {
        self.next = now + self.interval
    }
}

/// The loops of kmsd's background work, in one place: a graceful shutdown ends them between
/// rounds, never in the middle of one. Their waits are on the injected clock.
enum Periodic {
    private static var stopping: Bool { Task.isShuttingDownGracefully || Task.isCancelled }

    /// Waits for `deadline`; false when a shutdown or a cancellation ended the wait.
    private static func wait(until deadline: ContinuousClock.Instant, on clock: ServiceClock) async -> Bool {
        try? await cancelWhenGracefulShutdown { try await clock.sleep(until: deadline) }
        return !Self.stopping
    }

    /// Runs `round` at once and then `interval` after each round ends; a failed round is logged
    /// and the next one tries again.
    static func rounds(
        every interval: Duration, clock: ServiceClock, logger: Logger, failure: Logger.Message,
        _ round: () async throws -> Void
    ) async {
        var schedule = RoundSchedule(interval: interval, firstAt: clock.now)
        while !Self.stopping {
            guard await Self.wait(until: schedule.next, on: clock) else { break }
            do {
                try await round()
            } catch {
                if Self.stopping { break }
                logger.warning(failure, metadata: ["error": "\(String(reflecting: error))"])
            }
            schedule.roundEnded(at: clock.now)
        }
    }

    /// Runs `flush` `interval` after the last flush ended, and once more at shutdown.
    static func flushes(every interval: Duration, clock: ServiceClock, _ flush: @escaping @Sendable () async -> Void)
        async
    {
        var schedule = RoundSchedule(interval: interval, firstAt: clock.now + interval)
        while !Self.stopping {
            guard await Self.wait(until: schedule.next, on: clock) else { break }
            await flush()
            schedule.roundEnded(at: clock.now)
        }
        // The last flush must not inherit the shutdown's cancellation, or it would be lost.
        await Task { await flush() }.value
    }
}
