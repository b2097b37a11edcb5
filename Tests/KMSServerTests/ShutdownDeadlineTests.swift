import Logging
import Synchronization
import Testing

@testable import KMSServer

/// kmsd's last bound on its shutdown: once armed it ends the process (here: reports the status
/// it would exit with), naming what the shutdown still waited for, unless the shutdown finished.
@Suite struct ShutdownDeadlineTests {
    static let logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

    @Test func anOverrunShutdownEndsTheProcessNonZeroNamingWhatItWaitedFor() async throws {
        let (ended, end) = AsyncStream.makeStream(of: Int32.self)
        let deadline = ShutdownDeadline(limit: .milliseconds(20), logger: Self.logger) { end.yield($0) }
        // Started in the group's order; the shutdown stops them in the reverse one.
        deadline.started("usage flusher")
        deadline.started("rewrap job")
        deadline.started("audit outbox sweeper")
        deadline.finished("audit outbox sweeper")
        deadline.step("closing the audit log")
        #expect(deadline.waitingFor == ["rewrap job", "usage flusher", "kmsd: closing the audit log"])
        deadline.arm()
        deadline.arm()
        var statuses: [Int32] = []
        for await status in ended {
            statuses.append(status)
            break
        }
        #expect(statuses == [1])
    }

    @Test func aShutdownThatFinishedIsNotEnded() {
        let ends = Mutex(0)
        let deadline = ShutdownDeadline(limit: .seconds(3600), logger: Self.logger) { _ in ends.withLock { $0 += 1 } }
        deadline.completed()
        deadline.expired()
        #expect(ends.withLock { $0 } == 0)
    }

    @Test func aWatchedJobIsWaitedForUntilItReturns() async throws {
        let deadline = ShutdownDeadline(limit: .seconds(3600), logger: Self.logger) { _ in }
        let (entered, enter) = AsyncStream.makeStream(of: Void.self)
        let (released, release) = AsyncStream.makeStream(of: Void.self)
        let job = BackgroundJob("reaper", policy: .endProcess, logger: Self.logger) {
            enter.yield()
            for await _ in released { break }
        }.watched(by: deadline)
        let run = Task { try await job.run() }
        for await _ in entered { break }
        #expect(deadline.waitingFor == ["reaper"])
        release.yield()
        // Ending early fails an .endProcess job; what matters here is that it is no longer waited for.
        _ = try? await run.value
        #expect(deadline.waitingFor.isEmpty)
    }
}
