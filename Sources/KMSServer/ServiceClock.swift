import Foundation

/// Time as kmsd's timed parts read it: a monotonic clock for lifetimes, intervals and waits (it
/// never steps, so a wall-clock step cannot make a cache entry live forever or a job run twice),
/// and the wall clock for dates that are stored or compared with stored dates (rotation and
/// deletion dates, ValidTo, usage hours). Production uses the system's clocks; tests pass a
/// manual clock they advance (KMSTestSupport's ManualClock), so nothing timed needs a sleep.
public struct ServiceClock: Sendable {
    private let readNow: @Sendable () -> ContinuousClock.Instant
    private let sleeper: @Sendable (ContinuousClock.Instant) async throws -> Void
    private let readWall: @Sendable () -> Date

    /// ContinuousClock and the system's wall clock.
    public static let system = ServiceClock(ContinuousClock(), wall: { Date() })

    /// Any clock on ContinuousClock's instants (the system's, or a test's), with a wall clock.
    public init<C: Clock>(_ clock: C, wall: @escaping @Sendable () -> Date) where C.Instant == ContinuousClock.Instant {
        self.readNow = { clock.now }
        self.sleeper = { deadline in try await clock.sleep(until: deadline, tolerance: nil) }
        self.readWall = wall
    }

    /// The monotonic now.
    public var now: ContinuousClock.Instant { self.readNow() }

    /// The wall clock's now.
    public var wallNow: Date { self.readWall() }

    /// Waits until `deadline` on the monotonic clock; throws CancellationError when cancelled.
    public func sleep(until deadline: ContinuousClock.Instant) async throws {
        try await self.sleeper(deadline)
    }

    /// Waits `duration` on the monotonic clock; throws CancellationError when cancelled.
    public func sleep(for duration: Duration) async throws {
        try await self.sleeper(self.now + duration)
    }
}
