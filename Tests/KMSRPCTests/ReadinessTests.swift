import KMSRPC
import Synchronization
import Testing

/// Readiness as a value: rounds of checks kept for their window, shared by concurrent probes,
/// and "shutting down" at once without a check.
@Suite struct ReadinessTests {
    final class Counter: Sendable {
        let rounds = Atomic<Int>(0)
        let failing = Mutex<[Readiness.Failure]>([])

        var check: Readiness.Check {
            {
                self.rounds.add(1, ordering: .relaxed)
                try? await Task.sleep(for: .milliseconds(20))
                return self.failing.withLock { $0 }
            }
        }
    }

    @Test func aRoundIsKeptForItsWindowAndSharedByConcurrentProbes() async {
        let counter = Counter()
        let readiness = Readiness(checks: [counter.check], window: .seconds(3600))
        let reports = await withTaskGroup(of: Readiness.Report.self) { group in
            for _ in 0..<20 { group.addTask { await readiness.report() } }
            var all: [Readiness.Report] = []
            for await report in group { all.append(report) }
            return all
        }
        #expect(reports.allSatisfy { $0.isReady })
        #expect(await readiness.report().answer.status == 200)
        #expect(counter.rounds.load(ordering: .relaxed) == 1)
    }

    @Test func failuresAreNamedOnePerLine() async {
        let counter = Counter()
        counter.failing.withLock {
            $0 = [
                Readiness.Failure("worker", "kms-cryptod is unreachable"), Readiness.Failure("database", "unreachable"),
            ]
        }
        let readiness = Readiness(checks: [counter.check], window: .zero)
        let answer = await readiness.report().answer
        #expect(answer.status == 503)
        #expect(
            String(decoding: answer.body, as: UTF8.self)
                == "not ready\ndatabase: unreachable\nworker: kms-cryptod is unreachable\n")
        // A window of zero: every probe is a new round, and a recovery shows at once.
        counter.failing.withLock { $0 = [] }
        #expect(await readiness.report().isReady)
        #expect(counter.rounds.load(ordering: .relaxed) == 2)
    }

    @Test func shuttingDownIsNotReadyWithoutAnyCheck() async {
        let counter = Counter()
        let readiness = Readiness(checks: [counter.check], window: .seconds(3600))
        #expect(await readiness.report().isReady)
        readiness.beginShutdown()
        let report = await readiness.report()
        #expect(!report.isReady)
        #expect(report.failures.map(\.check) == ["shutdown"])
        #expect(report.answer.status == 503)
        #expect(counter.rounds.load(ordering: .relaxed) == 1)
    }

    @Test func notReadyWhileStartingThenWhatTheChecksFind() async {
        let counter = Counter()
        let readiness = Readiness(checks: nil, window: .seconds(3600))
        let starting = await readiness.report()
        #expect(starting.failures.map(\.check) == ["startup"])
        #expect(counter.rounds.load(ordering: .relaxed) == 0)
        readiness.start(checks: [counter.check])
        #expect(await readiness.report().isReady)
        #expect(counter.rounds.load(ordering: .relaxed) == 1)
    }
}
