import Synchronization

/// A call that did not finish within its bound.
public struct DeadlineExceeded: Error, CustomStringConvertible {
    /// The bound that passed.
    public var limit: Duration
    /// "no answer within <limit>".
    public var description: String { "no answer within \(self.limit)" }
}

/// `body`'s result, or DeadlineExceeded after `limit`, without waiting for `body` to notice its
/// cancellation. A task group would wait for its child, and neither a running postgres-nio query
/// nor a worker call on a stalled socket returns when cancelled: the caller's bound would be
/// theirs. `body` is cancelled (a pool checkout waiting for a connection gives up at once) and
/// left to finish in the background.
public func withDeadline<T: Sendable>(
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
