import KMSRPC
import Testing

/// The reconnect backoff as values: no sockets, no sleeps, seeded randomness.
@Suite struct RPCBackoffTests {
    /// SplitMix64: a seeded generator, so every run draws the same delays.
    struct SeededRandom: RandomNumberGenerator {
        var state: UInt64

        mutating func next() -> UInt64 {
            self.state &+= 0x9E37_79B9_7F4A_7C15
            var z = self.state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    @Test func theCeilingDoublesFromTheBaseToTheCap() {
        let backoff = RPCBackoff(base: .milliseconds(50), cap: .seconds(2))
        let ceilings = (1...10).map { backoff.ceiling(afterFailures: $0) }
        #expect(ceilings == [50, 100, 200, 400, 800, 1600, 2000, 2000, 2000, 2000].map { Duration.milliseconds($0) })
        #expect(backoff.ceiling(afterFailures: 0) == .milliseconds(50))
        #expect(backoff.ceiling(afterFailures: .max) == .seconds(2))
    }

    @Test func everyDelayLiesInTheUpperHalfOfItsCeilingAndTheyVary() {
        let backoff = RPCBackoff()
        var random = SeededRandom(state: 16)
        for failures in 1...12 {
            let ceiling = backoff.ceiling(afterFailures: failures)
            let delays = (0..<200).map { _ in backoff.delay(afterFailures: failures, using: &random) }
            #expect(delays.allSatisfy { $0 >= ceiling / 2 && $0 <= ceiling })
            // Jitter: clients that failed together do not come back together.
            #expect(Set(delays).count > 150)
        }
    }

    @Test func theSystemGeneratorsDelaysKeepToTheSameBounds() {
        let backoff = RPCBackoff()
        for failures in 1...12 {
            let ceiling = backoff.ceiling(afterFailures: failures)
            #expect(
                (0..<50).allSatisfy { _ in (ceiling / 2...ceiling).contains(backoff.delay(afterFailures: failures)) })
        }
    }

    @Test func theSameSeedGivesTheSameSchedule() {
        let backoff = RPCBackoff()
        var first = SeededRandom(state: 7)
        var second = SeededRandom(state: 7)
        #expect(
            (1...8).map { backoff.delay(afterFailures: $0, using: &first) }
                == (1...8).map { backoff.delay(afterFailures: $0, using: &second) })
    }

    @Test func aFailureDefersTheNextAttemptAndASuccessEndsTheBackoff() {
        var schedule = RPCReconnectSchedule(backoff: RPCBackoff(base: .milliseconds(50), cap: .seconds(2)))
        var random = SeededRandom(state: 1)
        let start = ContinuousClock.now
        #expect(schedule.wait(at: start) == .zero)

        var now = start
        var waits: [Duration] = []
        for _ in 0..<8 {
            schedule.failed(attemptStartedAt: now, at: now + .milliseconds(1), using: &random)
            now += .milliseconds(1)
            waits.append(schedule.wait(at: now))
            now += waits.last!  // the next attempt starts when it may
        }
        #expect(schedule.failures == 8)
        for (index, wait) in waits.enumerated() {
            let ceiling = schedule.backoff.ceiling(afterFailures: index + 1)
            #expect(wait >= ceiling / 2 && wait <= ceiling)
        }
        #expect(waits.last! <= .seconds(2) && waits.last! >= .seconds(1))
        // Part of the wait has passed: only the rest is left.
        #expect(schedule.wait(at: now - .milliseconds(300)) == .milliseconds(300))

        schedule.succeeded()
        #expect(schedule.failures == 0 && schedule.wait(at: now) == .zero)
        schedule.failed(attemptStartedAt: now, at: now, using: &random)
        #expect(schedule.wait(at: now) <= .milliseconds(50))
    }

    @Test func attemptsThatRanSideBySideCountAsOneFailedRound() {
        var schedule = RPCReconnectSchedule(backoff: RPCBackoff())
        var random = SeededRandom(state: 2)
        let start = ContinuousClock.now
        // Both connections of a pool try at once and are refused one after the other.
        schedule.failed(attemptStartedAt: start, at: start + .milliseconds(1), using: &random)
        let notBefore = schedule.notBefore
        schedule.failed(attemptStartedAt: start, at: start + .milliseconds(2), using: &random)
        #expect(schedule.failures == 1)
        #expect(schedule.notBefore == notBefore)
        // The next round, started after that failure, counts.
        let next = start + .milliseconds(60)
        schedule.failed(attemptStartedAt: next, at: next + .milliseconds(1), using: &random)
        #expect(schedule.failures == 2)
    }
}
