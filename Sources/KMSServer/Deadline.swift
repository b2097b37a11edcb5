/// The instant by which the request being served must be answered, set by the handler table
/// for the request's task (and inherited by the tasks it starts). Each wait inside a request
/// has its own bound (a database call, kms-cryptod, the audit commit), and their sum could
/// outlast the caller's own timeout; each waits at most until this deadline instead.
enum RequestDeadline {
    @TaskLocal static var current: ContinuousClock.Instant?

    /// `limit`, or what is left of the request's time if that is less (zero once it is over).
    static func bound(_ limit: Duration, now: ContinuousClock.Instant = .now) -> Duration {
        guard let deadline = Self.current else { return limit }
        return max(.zero, min(limit, deadline - now))
    }
}

extension AuditLog {
    /// Starts the log's own tasks (its writer, watchdog and timers) without the deadline of the
    /// request that happened to start them: they serve every request after it.
    @discardableResult
    static func detachedFromRequest<T>(_ start: () -> Task<T, Never>) -> Task<T, Never> {
        RequestDeadline.$current.withValue(nil) { start() }
    }
}
