import NIOCore

/// Capped exponential backoff with jitter, as a value: how long to wait before the next attempt
/// after a number of consecutive failures. `base` doubles with each failure up to `cap`; the
/// wait is drawn from the upper half of that ceiling ("equal jitter"), so it is never zero (a
/// refused connection is never retried at once) and clients that failed together spread out.
public struct RPCBackoff: Sendable, Hashable {
    /// The ceiling after the first failure.
    public var base: Duration
    /// The largest ceiling, however many failures.
    public var cap: Duration

    /// A `cap` below `base` is raised to `base`.
    public init(base: Duration = .milliseconds(50), cap: Duration = .seconds(2)) {
        self.base = base
        self.cap = max(base, cap)
    }

    /// The longest wait after `failures` consecutive failures (at least 1): base · 2^(failures−1),
    /// at most `cap`.
    public func ceiling(afterFailures failures: Int) -> Duration {
        let doublings = min(max(failures, 1) - 1, 30)
        var ceiling = self.base
        for _ in 0..<doublings {
            ceiling *= 2
            if ceiling >= self.cap { return self.cap }
        }
        return min(ceiling, self.cap)
    }

    /// The wait after `failures` consecutive failures: uniform in [ceiling/2, ceiling].
    public func delay(afterFailures failures: Int, using generator: inout some RandomNumberGenerator) -> Duration {
        .nanoseconds(Int64.random(in: self.nanosecondRange(afterFailures: failures), using: &generator))
    }

    /// The same, drawn from the system's generator inside the standard library. (Passing the
    /// empty SystemRandomNumberGenerator inout from concurrent tasks, ThreadSanitizer reports
    /// a race on the one global address all such values share.)
    public func delay(afterFailures failures: Int) -> Duration {
        .nanoseconds(Int64.random(in: self.nanosecondRange(afterFailures: failures)))
    }

    private func nanosecondRange(afterFailures failures: Int) -> ClosedRange<Int64> {
        let ceiling = TimeAmount(self.ceiling(afterFailures: failures)).nanoseconds
        return (ceiling / 2)...ceiling
    }
}

/// When a connection pool may next try to connect to its endpoint, kept as a value that takes
/// events (an attempt failed, one succeeded) and answers how long the next attempt waits; the
/// pool only sleeps and connects. One schedule per endpoint, not per connection: when one
/// connection is refused, so would another be.
public struct RPCReconnectSchedule: Sendable {
    /// How far apart failed rounds push the next attempt.
    public let backoff: RPCBackoff
    /// Failed rounds since the last success.
    public private(set) var failures = 0
    /// No attempt starts before this (nil: connect at once).
    public private(set) var notBefore: ContinuousClock.Instant?
    /// When the last failure was counted: attempts started before it were of the same round.
    private var lastFailure: ContinuousClock.Instant?

    /// A schedule with no failures: the first attempt starts at once.
    public init(backoff: RPCBackoff) {
        self.backoff = backoff
    }

    /// How long an attempt starting at `now` must wait first (zero: none).
    public func wait(at now: ContinuousClock.Instant) -> Duration {
        guard let notBefore, notBefore > now else { return .zero }
        return notBefore - now
    }

    /// An attempt that started at `started` failed at `now`. Attempts that ran side by side (each
    /// of a pool's connections at once) count as one failed round, not several.
    public mutating func failed(
        attemptStartedAt started: ContinuousClock.Instant, at now: ContinuousClock.Instant,
        using generator: inout some RandomNumberGenerator
    ) {
        let backoff = self.backoff
        self.failed(attemptStartedAt: started, at: now) { backoff.delay(afterFailures: $0, using: &generator) }
    }

    /// The same, with the system's generator.
    public mutating func failed(attemptStartedAt started: ContinuousClock.Instant, at now: ContinuousClock.Instant) {
        let backoff = self.backoff
        self.failed(attemptStartedAt: started, at: now) { backoff.delay(afterFailures: $0) }
    }

    private mutating func failed(
        attemptStartedAt started: ContinuousClock.Instant, at now: ContinuousClock.Instant, delay: (Int) -> Duration
    ) {
        if let lastFailure, started < lastFailure { return }
        self.failures += 1
        self.lastFailure = now
        self.notBefore = now + delay(self.failures)
    }

    /// An attempt succeeded: the endpoint is back, and the next failure starts from `base` again.
    public mutating func succeeded() {
        self.failures = 0
        self.notBefore = nil
        self.lastFailure = nil
    }
}
