import Foundation
import KMSDomain
import KMSStore
import KMSTestSupport
import Logging
import Synchronization
import Testing

@testable import KMSServer

/// The timed parts' decisions as values (the key cache's lifetimes and generations, the
/// flushers' buffers, the periodic jobs' schedule), and their shells driven by a manual clock:
/// no I/O, no sleep.
@Suite struct TimedStateTests {
    static let logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
    static let k1 = KeyID("00000000-0000-4000-8000-000000000001")!
    static let k2 = KeyID("00000000-0000-4000-8000-000000000002")!
    let t0 = ContinuousClock.now

    static func clocks() -> (ManualClock, ServiceClock) {
        let manual = ManualClock()
        return (manual, ServiceClock(manual, wall: { manual.wallNow }))
    }

    // MARK: Key cache

    func listeningCache(lifetime: Duration = .seconds(30), capacity: Int = 100) -> KeyCacheState {
        var state = KeyCacheState(lifetime: lifetime, capacity: capacity)
        state.setListening(true)
        return state
    }

    @Test func aCacheEntryLivesItsLifetimeAndNoLonger() {
        var state = self.listeningCache()
        let stored = state.store(\.aliases, "alias/a", Self.k1, loadedAt: state.generation, at: self.t0)
        #expect(stored)
        #expect(KeyCacheState.live(state.aliases["alias/a"], at: self.t0 + .seconds(29)) == Self.k1)
        #expect(KeyCacheState.live(state.aliases["alias/a"], at: self.t0 + .seconds(30)) == nil)
    }

    @Test func aLoadThatStartedBeforeAnInvalidationIsNotStored() {
        var state = self.listeningCache()
        let loadedAt = state.generation
        state.invalidateKey(Self.k2)
        let stale = state.store(\.aliases, "alias/a", Self.k2, loadedAt: loadedAt, at: self.t0)
        #expect(!stale)
        #expect(KeyCacheState.live(state.aliases["alias/a"], at: self.t0) == nil)
        let fresh = state.store(\.aliases, "alias/a", Self.k1, loadedAt: state.generation, at: self.t0)
        #expect(fresh)
    }

    @Test func nothingIsCachedWhileChangesAreNotHeardAndLosingTheListenerEmptiesTheCache() {
        var state = KeyCacheState(lifetime: .seconds(30), capacity: 100)
        let notListening = state.store(\.aliases, "alias/a", Self.k1, loadedAt: state.generation, at: self.t0)
        #expect(!notListening)
        state.setListening(true)
        state.store(\.aliases, "alias/a", Self.k1, loadedAt: state.generation, at: self.t0)
        state.rememberUnknownAccessKey("AKIAUNKNOWN", at: self.t0)
        state.rememberUnknownGrant("k/g", at: self.t0)
        state.setListening(false)
        #expect(KeyCacheState.live(state.aliases["alias/a"], at: self.t0) == nil)
        #expect(!state.isUnknownAccessKey("AKIAUNKNOWN", at: self.t0))
        // Unknown grants stay: a real grant id is never among them.
        #expect(state.isUnknownGrant("k/g", at: self.t0))
        #expect(!state.isUnknownGrant("k/g", at: self.t0 + .seconds(30)))
        state.rememberUnknownAccessKey("AKIAOTHER", at: self.t0)
        #expect(!state.isUnknownAccessKey("AKIAOTHER", at: self.t0))
    }

    @Test func aFullTableIsEmptiedBeforeTheNextEntry() {
        var state = self.listeningCache(capacity: 2)
        for name in ["a", "b", "c"] { state.store(\.aliases, name, Self.k1, loadedAt: state.generation, at: self.t0) }
        #expect(state.aliases.keys.sorted() == ["c"])
    }

    @Test func aWallClockStepNeitherExpiresACacheEntryNorKeepsItLonger() {
        let (manual, clock) = Self.clocks()
        let cache = KeyCache(lifetime: .seconds(30), clock: clock)
        cache.setListening(true)
        cache.storeAlias("alias/a", target: Self.k1, loadedAt: cache.generation)
        manual.stepWall(by: 86_400)
        #expect(cache.aliasTarget("alias/a") == Self.k1)
        manual.stepWall(by: -2 * 86_400)
        manual.advance(by: .seconds(29))
        #expect(cache.aliasTarget("alias/a") == Self.k1)
        manual.advance(by: .seconds(1))
        #expect(cache.aliasTarget("alias/a") == nil)
    }

    // MARK: Last-use and usage buffers

    @Test func aFailedLastUseWriteKeepsItsUsesButNotOverALaterUseEvenWhenTheWallClockWentBack() {
        var buffer = LastUseBuffer()
        let noon = Date(timeIntervalSince1970: 1_767_268_800)
        buffer.record(keyID: Self.k1, KeyUsageRecord(operation: "Encrypt", date: noon, requestID: "r1"))
        buffer.record(keyID: Self.k2, KeyUsageRecord(operation: "Decrypt", date: noon, requestID: "r2"))
        let batch = buffer.takeBatch()
        #expect(batch.count == 2)
        // Answered from memory while the write is in flight.
        #expect(buffer.latest(keyID: Self.k1)?.requestID == "r1")
        // The wall clock stepped back an hour; k1 is used again meanwhile.
        buffer.record(keyID: Self.k1, KeyUsageRecord(operation: "Decrypt", date: noon - 3600, requestID: "r3"))
        buffer.writeFailed(batch)
        #expect(buffer.latest(keyID: Self.k1)?.requestID == "r3")
        #expect(buffer.latest(keyID: Self.k2)?.requestID == "r2")
        let next = buffer.takeBatch()
        #expect(next.mapValues(\.requestID) == [Self.k1: "r3", Self.k2: "r2"])
    }

    @Test func usageIsCountedByWallClockHourAndAFailedWriteIsKeptWithItsId() {
        var tally = UsageTally()
        let hour = Date(timeIntervalSince1970: 1_767_268_800)
        tally.count(account: "111122223333", keyARN: "arn:k", operation: "Encrypt", failed: false, at: hour + 59)
        tally.count(account: "111122223333", keyARN: "arn:k", operation: "Encrypt", failed: true, at: hour + 3599)
        tally.count(account: "111122223333", keyARN: "arn:k", operation: "Encrypt", failed: false, at: hour + 3600)
        let key = UsageKey(account: "111122223333", keyARN: "arn:k", operation: "Encrypt", hour: hour)
        let next = UsageKey(account: "111122223333", keyARN: "arn:k", operation: "Encrypt", hour: hour + 3600)
        let first = UUID()
        let batches = tally.takeBatches(id: first)
        #expect(
            batches == [
                UsageBatch(
                    id: first,
                    counts: [key: UsageCount(requests: 2, failed: 1), next: UsageCount(requests: 1, failed: 0)])
            ])
        #expect(tally.counts.isEmpty && tally.takeBatches(id: UUID()).isEmpty)
        tally.count(account: "111122223333", keyARN: "arn:k", operation: "Encrypt", failed: false, at: hour + 10)
        #expect(tally.writeFailed(batches) == 0)
        #expect(tally.unwritten == [key: UsageCount(requests: 3, failed: 1), next: UsageCount(requests: 1, failed: 0)])
        // Sent again as it was, with its id, before what was counted since: never merged.
        let second = UUID()
        let again = tally.takeBatches(id: second)
        #expect(again.map(\.id) == [first, second])
        #expect(again.first == batches.first && again.last?.counts == [key: UsageCount(requests: 1, failed: 0)])
    }

    @Test func theUsageFlusherWritesEveryIntervalKeepsWhatAFailedWriteHadAndFlushesAtTheEnd() async throws {
        let (manual, clock) = Self.clocks()
        let attempts = Mutex(0)
        let written = Mutex<[[UsageKey: UsageCount]]>([])
        let (writes, wrote) = AsyncStream.makeStream(of: Void.self)
        let counter = UsageCounter(interval: .seconds(10), clock: clock, logger: Self.logger) { batch, _ in
            defer { wrote.yield() }
            let attempt = attempts.withLock { attempts in
                attempts += 1
                return attempts
            }
            if attempt == 1 { throw CancellationError() }
            written.withLock { $0.append(batch) }
        }
        var wroteOnce = writes.makeAsyncIterator()
        let running = Task { try await counter.run() }
        counter.count(account: "111122223333", keyARN: nil, operation: "ListKeys", failed: false)
        await manual.waitForSleepers(1)
        manual.advance(by: .seconds(9))
        #expect(attempts.withLock { $0 } == 0)
        manual.advance(by: .seconds(1))
        await wroteOnce.next()  // failed: kept
        // The write reports before the flusher puts its batch back; asleep again, it has.
        await manual.waitForSleepers(1)
        #expect(counter.unwritten.values.map(\.requests) == [1])
        counter.count(account: "111122223333", keyARN: nil, operation: "ListKeys", failed: false)
        await manual.waitForSleepers(1)
        manual.advance(by: .seconds(10))
        await wroteOnce.next()
        await wroteOnce.next()
        // The failed batch as it was (its id makes a second add of it a no-op), then the new one.
        #expect(written.withLock { $0 }.map { $0.values.map(\.requests) } == [[1], [1]])
        counter.count(account: "111122223333", keyARN: nil, operation: "ListKeys", failed: true)
        await manual.waitForSleepers(1)
        running.cancel()
        try await running.value
        #expect(written.withLock { $0 }.count == 3)
        #expect(written.withLock { $0 }.last?.values.map(\.failed) == [1])
    }

    @Test func theLastUseFlusherKeepsAFailedBatchForTheNextRound() async throws {
        let (manual, clock) = Self.clocks()
        let attempts = Mutex(0)
        let written = Mutex<[KeyID: KeyUsageRecord]>([:])
        let (writes, wrote) = AsyncStream.makeStream(of: Void.self)
        let tracker = LastUsageTracker(interval: .seconds(10), clock: clock, logger: Self.logger) { batch in
            defer { wrote.yield() }
            let attempt = attempts.withLock { attempts in
                attempts += 1
                return attempts
            }
            if attempt == 1 { throw CancellationError() }
            written.withLock { $0.merge(batch) { $1 } }
        }
        var wroteOnce = writes.makeAsyncIterator()
        let running = Task { try await tracker.run() }
        tracker.record(keyID: Self.k1, operation: "Encrypt", requestID: "r1")
        #expect(tracker.latest(keyID: Self.k1)?.date == manual.wallNow)
        await manual.waitForSleepers(1)
        manual.advance(by: .seconds(10))
        await wroteOnce.next()
        #expect(tracker.latest(keyID: Self.k1)?.requestID == "r1")
        await manual.waitForSleepers(1)
        manual.advance(by: .seconds(10))
        await wroteOnce.next()
        #expect(written.withLock { $0 }[Self.k1]?.requestID == "r1")
        running.cancel()
        try await running.value
    }

    // MARK: Periodic jobs

    @Test func theNextRoundStartsAnIntervalAfterTheLastEndedAndAWallStepChangesNothing() {
        var schedule = RoundSchedule(interval: .seconds(60), firstAt: self.t0)
        #expect(schedule.isDue(at: self.t0))
        schedule.roundEnded(at: self.t0 + .seconds(5))
        #expect(!schedule.isDue(at: self.t0 + .seconds(64)))
        #expect(schedule.isDue(at: self.t0 + .seconds(65)))
    }

    @Test func roundsRunAtOnceThenEveryIntervalAndAFailedRoundWaitsItsTurn() async throws {
        let (manual, clock) = Self.clocks()
        let rounds = Mutex<[Duration]>([])
        let running = Task {
            await Periodic.rounds(every: .seconds(60), clock: clock, logger: Self.logger, failure: "round failed") {
                let count = rounds.withLock { rounds in
                    rounds.append(manual.elapsed)
                    return rounds.count
                }
                if count == 2 { throw CancellationError() }
            }
        }
        await manual.waitForSleepers(1)
        #expect(rounds.withLock { $0 } == [.zero])
        manual.stepWall(by: 7200)
        manual.advance(by: .seconds(59))
        #expect(manual.sleeperCount == 1)
        manual.advance(by: .seconds(1))
        await manual.waitForSleepers(1)
        #expect(rounds.withLock { $0 } == [.zero, .seconds(60)])
        // The failed round is not retried at once.
        manual.stepWall(by: -7200)
        manual.advance(by: .seconds(59))
        #expect(rounds.withLock { $0 }.count == 2)
        manual.advance(by: .seconds(1))
        await manual.waitForSleepers(1)
        #expect(rounds.withLock { $0 } == [.zero, .seconds(60), .seconds(120)])
        running.cancel()
        await running.value
        #expect(rounds.withLock { $0 }.count == 3)
    }
}
