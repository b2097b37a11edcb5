import Foundation
import KMSDomain
import KMSStore
import Testing

@testable import KMSServer

/// The audit log's decisions (AuditLog+State) driven through outages with instants chosen by
/// the test: no database, no sleeping. FaultTests show the same behaviour end to end.
@Suite struct AuditLogStateTests {
    static let t0 = ContinuousClock.now
    static let timing = AuditLog.Timing(timeout: .seconds(1), checkpointInterval: .milliseconds(100), checkpoints: true)

    static func entry(_ operation: String = "Encrypt") -> AuditEntry {
        AuditEntry(
            time: Date(timeIntervalSince1970: 0), requestID: "r", principalARN: "arn:aws:iam::111122223333:root",
            accessKeyID: nil,
            sourceIP: nil, transport: "binary", operation: operation, keyARNs: [], alias: nil, encryptionContext: nil,
            grantID: nil,
            errorCode: nil
        )
    }

    /// A request waiting for its record (a real suspended continuation), and what it was told.
    static func waitingRequest(
        enqueued: ContinuousClock.Instant, requestDeadline: ContinuousClock.Instant? = nil
    ) async -> (AuditLog.Waiter, Task<String, Never>) {
        let (stream, handOut) = AsyncStream.makeStream(of: AuditLog.Waiter.self)
        let answer = Task { () -> String in
            do {
                try await withUnsafeThrowingContinuation { (continuation: UnsafeContinuation<Void, any Error>) in
                    handOut.yield(
                        AuditLog.Waiter(
                            Self.entry(), pending: nil, .continuation(continuation), enqueued: enqueued,
                            requestDeadline: requestDeadline))
                }
                return "ok"
            } catch {
                return "\(error)"
            }
        }
        var waiters = stream.makeAsyncIterator()
        return (await waiters.next()!, answer)
    }

    @Test func aLateRecordBeginsOneOutageAndItsRequestIsAnsweredOnce() async {
        var state = AuditLog.State()
        let (waiter, answer) = await Self.waitingRequest(enqueued: Self.t0)
        state.queue = [waiter]
        state.watching = true

        var tick = state.tick(now: Self.t0 + .milliseconds(900), Self.timing)
        #expect(tick.late.isEmpty && tick.began == nil && state.outage == nil && !tick.idle)

        tick = state.tick(now: Self.t0 + .milliseconds(1100), Self.timing)
        #expect(tick.late.count == 1 && tick.late.first === waiter)
        #expect(tick.began != nil, "the outage begins with the first late record")
        #expect(state.refusing, "new requests are refused while the late record is still to be written")
        for late in tick.late {
            late.resume(failing: KMSError.Code.internalFailure.rawValue, error: AuditLog.TimedOut())
        }
        #expect(await answer.value == "the audit record was not committed in time")
        // The record stays queued, marked as what its caller was told.
        #expect(state.queue.count == 1 && waiter.entry.errorCode == KMSError.Code.internalFailure.rawValue)

        // Later ticks neither answer it again nor log the outage again.
        tick = state.tick(now: Self.t0 + .milliseconds(1350), Self.timing)
        #expect(tick.late.isEmpty && tick.began == nil)
        #expect(state.outage?.since == Self.t0 + .milliseconds(1100))
    }

    @Test func aRequestWhoseOwnTimeIsOverIsAnsweredWithoutAnOutage() async {
        var state = AuditLog.State()
        let (early, earlyAnswer) = await Self.waitingRequest(
            enqueued: Self.t0, requestDeadline: Self.t0 + .milliseconds(300))
        let (other, _) = await Self.waitingRequest(enqueued: Self.t0, requestDeadline: nil)
        state.queue = [other, early]
        var tick = state.tick(now: Self.t0 + .milliseconds(299), Self.timing)
        #expect(tick.late.isEmpty)
        tick = state.tick(now: Self.t0 + .milliseconds(300), Self.timing)
        #expect(tick.late.count == 1 && tick.late.first === early, "found behind a request still in time")
        #expect(tick.began == nil && state.outage == nil, "a request out of time is no outage of the log")
        for late in tick.late {
            late.resume(failing: KMSError.Code.internalFailure.rawValue, error: AuditLog.TimedOut())
        }
        #expect(await earlyAnswer.value == "the audit record was not committed in time")
        tick = state.tick(now: Self.t0 + .milliseconds(1001), Self.timing)
        #expect(
            tick.late.count == 1 && tick.late.first === other && tick.began != nil,
            "the log's own timeout still makes one")
        other.resume()
    }

    @Test func waitsAreBoundedByWhatIsLeftOfTheRequest() async {
        #expect(RequestDeadline.bound(.seconds(5)) == .seconds(5), "outside a request: the wait's own bound")
        await RequestDeadline.$current.withValue(Self.t0 + .seconds(2)) {
            #expect(RequestDeadline.bound(.seconds(5), now: Self.t0) == .seconds(2))
            #expect(RequestDeadline.bound(.seconds(1), now: Self.t0) == .seconds(1))
            #expect(RequestDeadline.bound(.seconds(5), now: Self.t0 + .seconds(3)) == .zero)
            // Tasks the request starts (withDeadline's work) inherit it.
            let inherited = await Task { RequestDeadline.current }.value
            #expect(inherited == Self.t0 + .seconds(2))
        }
    }

    @Test func aStuckCommitAndAStuckLeaseAreEachGivenUpOnce() {
        var state = AuditLog.State()
        state.writingSince = Self.t0
        state.leasingSince = Self.t0 + .milliseconds(500)
        var tick = state.tick(now: Self.t0 + .milliseconds(1000), Self.timing)
        #expect(!tick.writeOverdue && !tick.leaseOverdue)
        tick = state.tick(now: Self.t0 + .milliseconds(1001), Self.timing)
        #expect(tick.writeOverdue && !tick.leaseOverdue)
        tick = state.tick(now: Self.t0 + .milliseconds(1501), Self.timing)
        #expect(!tick.writeOverdue && tick.leaseOverdue, "the commit was given up already; the lease now is")
        tick = state.tick(now: Self.t0 + .seconds(5), Self.timing)
        #expect(!tick.writeOverdue && !tick.leaseOverdue)
    }

    /// A writer that gets no connection in time is given up on whether or not its cancellation
    /// reaches it (a pool lease may not end when cancelled): its batch is queued again, an
    /// outage begins, the next writer starts after the backoff, and the old writer, should it
    /// get a connection after all, finds itself of an older generation.
    @Test func aWriterWithoutAConnectionIsGivenUpOnAndReplaced() async {
        var state = AuditLog.State()
        let (waiter, answer) = await Self.waitingRequest(enqueued: Self.t0 + .milliseconds(600))
        state.writing = [waiter]
        state.flushing = true
        state.leasingSince = Self.t0
        let generation = state.generation
        var tick = state.tick(now: Self.t0 + .milliseconds(1001), Self.timing)
        #expect(tick.leaseOverdue && tick.abandoned.count == 1 && tick.abandoned.first === waiter)
        #expect(tick.late.isEmpty, "its own record is not late yet: it is answered as abandoned")
        #expect(tick.began != nil && state.outage?.failedWrites == 1)
        #expect(
            state.generation == generation + 1 && !state.flushing && state.writing.isEmpty
                && state.queue.first === waiter)
        for abandoned in tick.abandoned {
            abandoned.resume(failing: KMSError.Code.internalFailure.rawValue, error: AuditLog.TimedOut())
        }
        #expect(await answer.value == "the audit record was not committed in time")
        tick = state.tick(now: Self.t0 + .milliseconds(1050), Self.timing)
        #expect(!tick.startWriter && !tick.leaseOverdue)
        tick = state.tick(now: Self.t0 + .milliseconds(1101), Self.timing)
        #expect(tick.startWriter && state.flushing, "the next writer after the first backoff (100 ms)")
    }

    @Test func failuresBackOffAndTheWriterStartsAgainOnlyAfterTheBackoff() async {
        var state = AuditLog.State()
        let (first, firstAnswer) = await Self.waitingRequest(enqueued: Self.t0)
        let (second, secondAnswer) = await Self.waitingRequest(enqueued: Self.t0)
        state.queue = [second]
        state.writing = [first]
        state.flushing = true

        let began = state.failed([first], cause: "disk full", now: Self.t0)
        #expect(began, "the first failure begins the outage")
        #expect(
            state.queue.map(ObjectIdentifier.init) == [ObjectIdentifier(first), ObjectIdentifier(second)],
            "the failed batch goes back to the head of the queue, in order")
        #expect(state.writing.isEmpty && !state.flushing && state.retryAt == Self.t0 + .milliseconds(100))

        // Each failure doubles the wait, up to two seconds; only the first begins an outage.
        var now = Self.t0
        var waits: [Duration] = []
        for _ in 0..<6 {
            now = now + .seconds(3)
            let began = state.failed([], cause: "disk full", now: now)
            #expect(!began)
            waits.append(state.retryAt! - now)
        }
        #expect(
            waits == [
                .milliseconds(200), .milliseconds(400), .milliseconds(800), .milliseconds(1600), .seconds(2),
                .seconds(2),
            ])
        #expect(state.outage?.failedWrites == 7 && state.outage?.cause == "disk full")

        var tick = state.tick(now: state.retryAt! - .milliseconds(1), Self.timing)
        #expect(!tick.startWriter)
        tick = state.tick(now: state.retryAt!, Self.timing)
        #expect(tick.startWriter && state.flushing && state.retryAt == nil)
        tick = state.tick(now: now + .seconds(10), Self.timing)
        #expect(!tick.startWriter, "one writer at a time")

        // The next commit ends the outage and the backoff starts over.
        let outage = state.recovered()
        #expect(outage?.failedWrites == 7 && state.outage == nil && state.backoff == AuditLog.firstBackoff)
        state.queue = []
        #expect(!state.refusing)
        for waiter in [first, second] { waiter.resume() }
        _ = await (firstAnswer.value, secondAnswer.value)
    }

    @Test func requestsAreLetInOnceTheOutageHasNothingLeftToWrite() {
        var state = AuditLog.State()
        state.outage = AuditLog.Outage(since: Self.t0, cause: "test")
        #expect(!state.refusing, "nothing of the outage is left to write: the next commit ends it")
        state.writing = [AuditLog.Waiter(Self.entry(), pending: nil, nil)]
        #expect(state.refusing)
        state.outage = nil
        #expect(!state.refusing, "no outage, no refusal")
    }

    @Test func theWatchdogStopsWhenNothingIsLeftToWatch() {
        var state = AuditLog.State()
        state.watching = true
        state.retryAt = Self.t0 + .seconds(1)
        var tick = state.tick(now: Self.t0, Self.timing)
        #expect(!tick.idle && state.watching, "a retry is still to start")
        tick = state.tick(now: Self.t0 + .seconds(1), Self.timing)
        #expect(tick.idle && !state.watching, "the retry found nothing queued")
    }

    @Test func checkpointsAreDueByTheirIntervalNotWhileARetryWaitsAndWithEveryBatchWhenClosing() {
        var state = AuditLog.State()
        #expect(state.checkpointDue(now: Self.t0, Self.timing), "the first batch brings one")
        var without = Self.timing
        without.checkpoints = false
        #expect(!state.checkpointDue(now: Self.t0, without), "no kms-cryptod, no checkpoints")

        state.lastCheckpoint = Self.t0
        #expect(!state.checkpointDue(now: Self.t0 + .milliseconds(99), Self.timing))
        #expect(state.checkpointDue(now: Self.t0 + .milliseconds(100), Self.timing))
        state.checkpointRetry = Self.t0 + .seconds(1)
        #expect(
            !state.checkpointDue(now: Self.t0 + .milliseconds(500), Self.timing),
            "kms-cryptod failed one: not before the retry")
        #expect(state.checkpointDue(now: Self.t0 + .seconds(1), Self.timing))
        state.checkpointRetry = nil
        state.closing = true
        #expect(
            state.checkpointDue(now: Self.t0 + .milliseconds(1), Self.timing), "kmsd stopping: every batch brings one")
    }

    @Test func anIdleHeadIsCheckpointedOnceItsIntervalIsOver() {
        var state = AuditLog.State()
        #expect(state.idleCheckpointDue(now: Self.t0, Self.timing) == nil, "no head known yet")
        state.head = AuditStore.Head(sequence: 5, hash: [], checkpoint: 1, checkpointSequence: 5)
        #expect(state.idleCheckpointDue(now: Self.t0, Self.timing) == nil, "a checkpoint covers the head")
        state.head = AuditStore.Head(sequence: 7, hash: [], checkpoint: 1, checkpointSequence: 5)
        #expect(state.idleCheckpointDue(now: Self.t0, Self.timing) == Self.t0, "never checkpointed by this kmsd: now")
        state.lastCheckpoint = Self.t0
        #expect(state.idleCheckpointDue(now: Self.t0 + .milliseconds(10), Self.timing) == Self.t0 + .milliseconds(100))
        #expect(state.idleCheckpointDue(now: Self.t0 + .milliseconds(300), Self.timing) == Self.t0 + .milliseconds(300))
        state.checkpointRetry = Self.t0 + .seconds(1)
        #expect(
            state.idleCheckpointDue(now: Self.t0 + .seconds(2), Self.timing) == nil,
            "after a failure the next batch tries again")
    }
}
