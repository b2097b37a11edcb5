import Synchronization

/// A call that did not finish within its bound.
struct DeadlineExceeded: Error, CustomStringConvertible {
    var limit: Duration
    var description: String { "no answer within \(self.limit)" }
}

/// `body`'s result, or DeadlineExceeded after `limit`, without waiting for `body` to notice its
/// cancellation. A task group would wait for its child, and neither a running postgres-nio query
/// nor a worker call on a stalled socket returns when cancelled: the caller's bound would be
/// theirs. `body` is cancelled (a pool checkout waiting for a connection gives up at once) and
/// left to finish in the background.
func withDeadline<T: Sendable>(
    _ limit: Duration, executor: (any TaskExecutor)? = nil, _ body: @escaping @Sendable () async throws -> T
) async throws -> T {
    let outcome = DeadlineOutcome<T>()
    return try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
        outcome.state.withLock { $0.continuation = continuation }
        let work = Task(executorPreference: executor) {
            do { outcome.resume(.success(try await body())) } catch { outcome.resume(.failure(error)) }
        }
        outcome.arm(
            Task {
                try await Task.sleep(for: limit)
                outcome.resume(.failure(DeadlineExceeded(limit: limit)))
                work.cancel()
            })
    }
}

/// Resumed once, by whichever comes first; the timer stops once the work answered (else every
/// call would leave a task sleeping out its bound).
private final class DeadlineOutcome<T: Sendable>: Sendable {
    struct State {
        var continuation: CheckedContinuation<T, any Error>?
        var timer: Task<Void, any Error>?
        var done = false
    }

    let state = Mutex(State())

    func arm(_ timer: Task<Void, any Error>) {
        let done = self.state.withLock { state -> Bool in
            if !state.done { state.timer = timer }
            return state.done
        }
        if done { timer.cancel() }
    }

    func resume(_ result: Result<T, any Error>) {
        let (continuation, timer) = self.state.withLock { state in
            state.done = true
            return (state.continuation.take(), state.timer.take())
        }
        timer?.cancel()
        continuation?.resume(with: result)
    }
}

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
