import NIOCore
import NIOPosix
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
///
/// `body` runs on `executor`, else on the caller's event loop when it runs on one (a request's
/// task does), and the timer is that loop's: a call bounded on every request (the audit
/// commit's statement) then crosses no thread. A sleeping task as the timer cost each call a hop
/// to Swift's global pool and a dispatch timer armed and cancelled there.
public func withDeadline<T: Sendable>(
    _ limit: Duration, executor: (any TaskExecutor)? = nil, _ body: @escaping @Sendable () async throws -> T
) async throws -> T {
    let outcome = DeadlineOutcome<T>()
    let loop = (executor as? EventLoopTaskExecutor)?.eventLoop ?? MultiThreadedEventLoopGroup.currentEventLoop
    let executor = executor ?? loop.map(EventLoopTaskExecutor.init)
    return try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
        outcome.state.withLock { $0.continuation = continuation }
        let work = Task(executorPreference: executor) {
            do { outcome.resume(.success(try await body())) } catch { outcome.resume(.failure(error)) }
        }
        let expire: @Sendable () -> Void = {
            outcome.resume(.failure(DeadlineExceeded(limit: limit)))
            work.cancel()
        }
        if let loop {
            let scheduled = loop.scheduleTask(in: TimeAmount(limit)) { expire() }
            outcome.arm { scheduled.cancel() }
        } else {
            let timer = Task {
                try await Task.sleep(for: limit)
                expire()
            }
            outcome.arm { timer.cancel() }
        }
    }
}

/// Resumed once, by whichever comes first; the timer stops once the work answered (else every
/// call would leave a timer running out its bound).
private final class DeadlineOutcome<T: Sendable>: Sendable {
    struct State {
        var continuation: CheckedContinuation<T, any Error>?
        var stopTimer: (@Sendable () -> Void)?
        var done = false
    }

    let state = Mutex(State())

    func arm(_ stopTimer: @escaping @Sendable () -> Void) {
        let done = self.state.withLock { state -> Bool in
            if !state.done { state.stopTimer = stopTimer }
            return state.done
        }
        if done { stopTimer() }
    }

    func resume(_ result: Result<T, any Error>) {
        let (continuation, stopTimer) = self.state.withLock { state in
            state.done = true
            return (state.continuation.take(), state.stopTimer.take())
        }
        stopTimer?()
        continuation?.resume(with: result)
    }
}
