import NIOCore
import NIOPosix
import Synchronization
import Testing

@testable import KMSRPC

/// withDeadline: the bound holds whatever the work does with its cancellation, and a caller on
/// an event loop keeps the work and the timer on that loop.
@Suite struct DeadlineTests {
    /// Work that ignores cancellation and never finishes by itself, and what it saw.
    final class Stuck: Sendable {
        let cancelled = Atomic<Bool>(false)
        let release = Mutex<CheckedContinuation<Void, Never>?>(nil)

        func run() async {
            await withTaskCancellationHandler {
                await withCheckedContinuation { continuation in self.release.withLock { $0 = continuation } }
            } onCancel: {
                self.cancelled.store(true, ordering: .relaxed)
            }
        }

        func finish() {
            while true {
                if let continuation = self.release.withLock({ $0.take() }) { return continuation.resume() }
            }
        }
    }

    @Test func anAnswerInTimeIsReturnedAndItsTimerStops() async throws {
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let answer = try await Task(executorPreference: EventLoopTaskExecutor(loop)) {
            try await withDeadline(.milliseconds(50)) { 42 }
        }.value
        #expect(answer == 42)
        // A timer left armed would fire into a finished call: nothing may happen then.
        try await Task.sleep(for: .milliseconds(100))
    }

    @Test func workThatDoesNotStopIsGivenUpOnAtTheBoundAndCancelled() async throws {
        for onLoop in [true, false] {
            let stuck = Stuck()
            let executor = onLoop ? EventLoopTaskExecutor(MultiThreadedEventLoopGroup.singleton.next()) : nil
            let started = ContinuousClock.now
            let outcome = await Task(executorPreference: executor) { () -> (any Error)? in
                do {
                    try await withDeadline(.milliseconds(100)) { await stuck.run() }
                    return nil
                } catch {
                    return error
                }
            }.value
            let waited = ContinuousClock.now - started
            #expect(outcome is DeadlineExceeded)
            #expect(waited >= .milliseconds(100))
            // The caller is answered first and the work cancelled just after, on the timer's
            // thread: wait for that (bounded), rather than race it.
            let bound = ContinuousClock.now + .seconds(5)
            while !stuck.cancelled.load(ordering: .relaxed), ContinuousClock.now < bound {
                try await Task.sleep(for: .milliseconds(1))
            }
            let cancelled = stuck.cancelled.load(ordering: .relaxed)
            #expect(cancelled)
            stuck.finish()
        }
    }

    @Test func aCallerOnAnEventLoopKeepsItsWorkOnThatLoop() async throws {
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let onLoop = try await Task(executorPreference: EventLoopTaskExecutor(loop)) {
            try await withDeadline(.seconds(5)) { loop.inEventLoop }
        }.value
        #expect(onLoop)
        // A given executor wins over the caller's loop.
        let other = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let otherLoop = other.next()
        let onOther = try await Task(executorPreference: EventLoopTaskExecutor(loop)) {
            try await withDeadline(.seconds(5), executor: EventLoopTaskExecutor(otherLoop)) { otherLoop.inEventLoop }
        }.value
        #expect(onOther)
        try await other.shutdownGracefully()
    }
}
