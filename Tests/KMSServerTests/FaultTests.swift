import Foundation
import KMSClient
import KMSProto
import KMSTestSupport
import Testing

/// kmsd's links failing under it (issue 16 §3), short forms: PostgreSQL stalled, slow or down,
/// kms-cryptod killed, stalled, slow, reset or answering garbage. Each fault sits between the
/// processes (a FaultProxy) or kills one; none is restarted but the one that died. Requests
/// fail, retryable, in bounded time; no result goes out without its record; full service
/// comes back by itself once the fault clears. scripts/faults has the long forms.
///
/// The bounds only tell a request that finished from one that hung: the fault's own timeout
/// plus a generous margin, never a tight timing.
@Suite struct FaultTests {
    static let auditTimeout = 1
    static let arguments = ["--audit-timeout-seconds", "\(auditTimeout)", "--usage-flush-seconds", "1"]
    /// A request refused for want of its audit record ends by then.
    static let auditBound = Duration.seconds(auditTimeout + 10)
    /// kmsd's wait for kms-cryptod (KMSDaemon.Settings.workerTimeout, 5 s) plus the margin.
    static let workerBound = Duration.seconds(5 + 10)
    /// KMSClient's own default timeout: kmsd must answer a stalled worker's requests before
    /// a client with default settings gives up on its own.
    static let clientDefaultTimeout = Duration.seconds(10)

    /// A client that tries once and gives up after `timeout`, on one connection made (and
    /// authenticated) before the fault, so what is measured is the request alone.
    static func onceClient(_ stack: KMSStack, timeout: Duration) throws -> KMSClient {
        try stack.kmsd.client(credentials: stack.adminCredentials) {
            $0.maxAttempts = 1
            $0.connections = 1
            $0.timeout = .seconds(timeout.components.seconds)
        }
    }

    /// Runs `body` on a new FaultStack, which it stops whatever `body` did. kmsd must then exit
    /// by itself, 0: a shutdown that overran its last deadline (exit 1) or never ended (killed)
    /// fails the test, with the stop's outcome, instead of holding it silent.
    static func withFaultStack(kmsdArguments: [String], _ body: (FaultStack) async throws -> Void) async throws {
        let faults = try await FaultStack.start(kmsdArguments: kmsdArguments)
        let outcome: Result<Void, any Error>
        do {
            try await body(faults)
            outcome = .success(())
        } catch {
            outcome = .failure(error)
        }
        let stop = await faults.stop()
        #expect(stop == .exited(0), "kmsd's shutdown after the faults: \(stop)")
        try outcome.get()
    }

    // MARK: PostgreSQL

    @Test func postgresStalledFailsClosedAndRecovers() async throws {
        try await self.postgresFault(.stall, everyCryptoRequestFails: true)
    }

    @Test func postgresSlowAnswersOrFailsClosedInBoundedTime() async throws {
        try await self.postgresFault(.slow(.milliseconds(300)), everyCryptoRequestFails: false)
    }

    @Test func postgresDownFailsClosedAndRecovers() async throws {
        try await self.postgresFault(.drop, everyCryptoRequestFails: true)
    }

    /// kmsd stopped while PostgreSQL answers nothing, with its background jobs mid-call (the
    /// re-wrap job reads every 5 s, the usage flusher writes every second, and each flusher
    /// writes once more as it stops): every such call has its bound, so the shutdown ends by
    /// itself and kmsd exits 0 rather than at its last deadline (exit 1). Before those bounds,
    /// one job's statement left unanswered held kmsd's shutdown forever.
    @Test func kmsdStopsByItselfWhilePostgresIsDeaf() async throws {
        try await Self.withFaultStack(kmsdArguments: Self.arguments + ["--shutdown-grace-seconds", "10"]) { faults in
            let stack = faults.stack
            let kms = try Self.onceClient(stack, timeout: Self.auditBound + .seconds(2))
            let key = try await settingUp("CreateKey") { try await kms.createKey("deaf stop") }
            // Counts and a last use for the flushers to write.
            _ = try await settingUp("Encrypt") { try await kms.encrypt(key.keyID, [1]) }
            await kms.close()
            await stack.client.close()
            faults.database.set(.deaf)
            try await Task.sleep(for: .seconds(6))
            // Stopped here, still deaf; withFaultStack requires the exit 0.
            await stack.kmsd.stop()
        }
    }

    /// The audit commit reaches PostgreSQL and commits, but its answer never comes back: the
    /// watchdog closes the connection and the request is refused, retryably. The next try must
    /// find the records already chained (the head row is the head that commit made) instead of
    /// chaining them a second time. The record says the operation succeeded, which it did; only
    /// its answer was lost.
    @Test func aCommitWhoseAnswerIsLostIsNotChainedTwice() async throws {
        try await Self.withFaultStack(kmsdArguments: Self.arguments) { try await self.answerLost($0) }
    }

    /// A change whose commit's answer is lost with its connection (PostgreSQL deaf, then every
    /// connection reset): the key exists with its record in the outbox, and kmsd, which never
    /// heard the commit, still chains the record once it is `--audit-adopt-after-seconds` old,
    /// without a restart (before, only its next start or another kmsd's sweep did).
    @Test func aChangeWhoseCommitWasNotHeardIsChainedByItsOwnKmsd() async throws {
        // Two pooled connections, so that the CreateKeys below prepare the insert on each.
        let arguments = Self.arguments + ["--audit-adopt-after-seconds", "1", "--database-connections", "2"]
        try await Self.withFaultStack(kmsdArguments: arguments) {
            try await self.commitNotHeard($0)
        }
    }

    func commitNotHeard(_ faults: FaultStack) async throws {
        let stack = faults.stack
        let kms = try Self.onceClient(stack, timeout: Self.auditBound + .seconds(2))
        // kmsd's pooled connections must have the insert's statement prepared: on one without
        // it, the deaf PostgreSQL would hold the preparation's answer and the CreateKey would
        // never be sent. Two CreateKeys at once go each alone (KeyInsertBatches sends two at a
        // time), and with PostgreSQL's answers slowed their inserts overlap, so each takes one
        // of kmsd's two connections and prepares the statement there. (Eight at once did it
        // only by chance once the later ones went batched.)
        faults.database.set(.slow(.milliseconds(50)))
        for round in 0..<3 {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<2 {
                    group.addTask {
                        _ = try await settingUp("CreateKey") { try await kms.createKey("heard \(round).\(index)") }
                    }
                }
                try await group.waitForAll()
            }
        }
        faults.database.set(.pass)
        let before = try await stack.client.call(KMSMethod.listKeys, KMSListKeysRequest()).keys.count

        // The CreateKey's procedure reaches PostgreSQL and commits; its answer is held, then
        // dropped with every connection. Its caller hears a retryable error.
        faults.database.set(.deaf)
        let unheard = await timed("CreateKey unheard") { _ = try await kms.createKey("unheard") }
        faults.database.set(.drop)
        let reset = ContinuousClock.now + .seconds(20)
        while faults.database.openConnections > 0, ContinuousClock.now < reset {
            try await Task.sleep(for: .milliseconds(20))
        }
        faults.database.set(.pass)
        #expect(!unheard.succeeded && unheard.error?.retryable == true, "\(unheard)")

        let keys = try await settled {
            try await stack.client.call(KMSMethod.listKeys, KMSListKeysRequest()).keys.count
        } settledWhen: {
            $0 == before + 1
        }
        try #require(keys == before + 1, "the unheard CreateKey did not commit, so there is nothing to chain")
        let creations = try await settled(within: .seconds(60)) {
            try await stack.client.auditRecords { $0.operation = "CreateKey" }.filter(\.errorCode.isEmpty).count
        } settledWhen: {
            $0 >= keys
        }
        #expect(creations == keys, "\(keys) keys but \(creations) recorded creations")
        let verified = try await stack.client.verifyAuditLog()
        #expect(verified.intact, "\(verified.reason)")
        await kms.close()
    }

    func answerLost(_ faults: FaultStack) async throws {
        let stack = faults.stack
        let kms = try Self.onceClient(stack, timeout: Self.auditBound + .seconds(2))
        let key = try await settingUp("CreateKey") { try await kms.createKey("lost answer") }
        _ = try await settingUp("Encrypt") { try await kms.encrypt(key.keyID, [1], context: ["n": "warm"]) }

        // The scenario needs the key cached, so that the request reaches its audit commit with
        // PostgreSQL deaf. kmsd caches only while its change listener is connected, and the
        // key's own creation notice may drop the entry the warm-up made: a request that needed
        // PostgreSQL for the key fails before any commit ("the key store is unavailable"), and
        // is tried again, under a context of its own, after another warm-up.
        var lost = Outcome(label: "", error: nil, elapsed: .zero)
        var context = ""
        for attempt in 1...5 {
            context = "deaf-\(attempt)"
            _ = try await settingUp("Encrypt") { try await kms.encrypt(key.keyID, [1], context: ["n": "warm"]) }
            faults.database.set(.deaf)
            lost = await timed("Encrypt n=\(context)") {
                _ = try await kms.encrypt(key.keyID, [2], context: ["n": context])
            }
            faults.database.set(.pass)
            guard lost.error?.message.contains("the key store is unavailable") == true else { break }
        }
        // Withheld after its crypto ran (not refused before: then there would be nothing to find).
        #expect(!lost.succeeded && lost.error?.retryable == true, "\(lost)")
        #expect(
            lost.error?.message.contains("the request was not answered") == true,
            "\(lost): \(lost.error?.message ?? "")")
        #expect(lost.elapsed < Self.auditBound, "\(lost)")
        let recovered = await untilSuccess("Encrypt after the lost answer") {
            _ = try await kms.encrypt(key.keyID, [3], context: ["n": "recovered"])
        }
        #expect(recovered.succeeded, "\(recovered)")

        let records = try await stack.client.auditRecords { $0.keyArn = key.arn }
        let deaf = records.filter { $0.encryptionContext["n"] == context }
        #expect(
            deaf.count == 1,
            """
            the record whose commit answer was lost is in the log \(deaf.count) times: \(deaf.map(\.requestID)); \
            the key's records: \
            \(records.map { "\($0.operation) \($0.encryptionContext["n"] ?? "-") \($0.errorCode)" })
            """
        )
        let verified = try await stack.client.verifyAuditLog()
        #expect(verified.intact, "\(verified.reason)")
        await kms.close()
    }

    /// Crypto requests on a cached key (they need PostgreSQL only for their records) and a
    /// CreateKey (it needs it throughout) while PostgreSQL is behind `fault`.
    func postgresFault(_ fault: FaultProxy.Mode, everyCryptoRequestFails: Bool) async throws {
        try await Self.withFaultStack(kmsdArguments: Self.arguments) {
            try await self.postgresFault(fault, everyCryptoRequestFails: everyCryptoRequestFails, $0)
        }
    }

    func postgresFault(_ fault: FaultProxy.Mode, everyCryptoRequestFails: Bool, _ faults: FaultStack) async throws {
        let stack = faults.stack
        let kms = try Self.onceClient(stack, timeout: Self.auditBound + .seconds(2))
        let key = try await settingUp("CreateKey") { try await kms.createKey("faults") }
        _ = try await settingUp("Encrypt") { try await kms.encrypt(key.keyID, [1], context: ["n": "warm"]) }
        let pids = (stack.kmsd.pid, stack.worker.process?.processIdentifier)

        faults.database.set(fault)
        var requests: [(String, @Sendable () async throws -> Void)] = []
        for index in 0..<3 {
            requests.append(
                ("Encrypt n=f\(index)", { _ = try await kms.encrypt(key.keyID, [2], context: ["n": "f\(index)"]) }))
            requests.append(
                (
                    "GenerateDataKey n=g\(index)",
                    { _ = try await kms.generateDataKey(key.keyID, context: ["n": "g\(index)"]) }
                ))
        }
        requests.append(("CreateKey", { _ = try await kms.createKey("made during \(fault)") }))
        let outcomes = await concurrently(requests)
        for outcome in outcomes {
            #expect(
                outcome.elapsed < Self.auditBound, "\(fault): the request did not finish in bounded time: \(outcome)")
            #expect(
                outcome.succeeded || outcome.error?.retryable == true,
                "\(fault): refused, but not as retryable: \(outcome)")
        }
        if everyCryptoRequestFails {
            #expect(
                outcomes.allSatisfy { !$0.succeeded },
                "\(fault): a result went out although its record cannot have been written: \(outcomes)")
        }

        faults.database.set(.pass)
        let recovered = await untilSuccess("Encrypt after \(fault)") {
            _ = try await kms.encrypt(key.keyID, [3], context: ["n": "recovered"])
        }
        #expect(recovered.succeeded, "\(fault): no service again after the fault cleared: \(recovered)")
        for index in 0..<5 {
            let after = await timed("Encrypt n=a\(index)") {
                _ = try await kms.encrypt(key.keyID, [4], context: ["n": "a\(index)"])
            }
            #expect(after.succeeded, "\(fault): \(after)")
        }
        // A new connection is authenticated again too.
        let fresh = try Self.onceClient(stack, timeout: .seconds(20))
        #expect(await code { _ = try await fresh.encrypt(key.keyID, [5], context: ["n": "fresh"]) } == nil)
        #expect(
            stack.kmsd.pid == pids.0 && stack.worker.process?.processIdentifier == pids.1, "a process was restarted")

        let records = try await stack.client.auditRecords { $0.keyArn = key.arn }
        let logged = Dictionary(
            records.map { ($0.encryptionContext["n"] ?? "", $0) }, uniquingKeysWith: { first, _ in first })
        let acknowledged =
            ["warm", "recovered", "fresh"] + (0..<5).map { "a\($0)" }
            + zip(outcomes.prefix(6), (0..<3).flatMap { ["f\($0)", "g\($0)"] }).filter { $0.0.succeeded }.map(\.1)
        let unrecorded = acknowledged.filter { logged[$0] == nil }
        #expect(unrecorded.isEmpty, "\(fault): acknowledged without a record: \(unrecorded)")
        // A result withheld for want of its record is still recorded once the log can be written.
        // Withheld: the crypto ran and its answer was held back for want of the record (kmsd
        // says so). Requests refused at the door or failed at the key lookup did nothing, and
        // their records name no context.
        let withheld = zip(outcomes.prefix(6), (0..<3).flatMap { ["f\($0)", "g\($0)"] })
            .filter { !$0.0.succeeded && ($0.0.error?.message.contains("the request was not answered") ?? false) }.map(
                \.1)
        let lost = withheld.filter { logged[$0] == nil }
        #expect(
            lost.isEmpty,
            """
            \(fault): operations that ran during the fault left no record: \(lost); outcomes: \
            \(outcomes.map { "\($0) \($0.error?.message ?? "")" })
            """
        )
        let verified = try await stack.client.verifyAuditLog()
        #expect(verified.intact, "\(fault): \(verified.reason)")
        // Billing counts what callers were told, once the flusher (every second) has caught up.
        let counted = try await settled {
            try await stack.client.countedSuccesses(keyARN: key.arn, operations: ["Encrypt", "GenerateDataKey"])
        } settledWhen: {
            $0 >= Int64(acknowledged.count)
        }
        #expect(
            counted == Int64(acknowledged.count),
            "\(fault): usage counts \(counted) successes; callers were told of \(acknowledged.count)")
        // A key that exists was created by a request that has its record. The CreateKey made
        // during the fault may commit once PostgreSQL comes back, after its caller heard a
        // retryable error; its record is chained when kmsd hears that commit.
        let (keys, creations) = try await settled {
            let keys = try await stack.client.call(KMSMethod.listKeys, KMSListKeysRequest()).keys.count
            let creations = try await stack.client.auditRecords { $0.operation = "CreateKey" }
                .filter(\.errorCode.isEmpty).count
            return (keys, creations)
        } settledWhen: {
            $0.0 <= $0.1
        }
        #expect(keys <= creations, "\(fault): \(keys) keys but \(creations) recorded creations")

        await kms.close()
        await fresh.close()
    }

    // MARK: kms-cryptod

    @Test func workerKilledFailsRetryableAndKmsdRecoversWhenItReturns() async throws {
        let stack = try await KMSStack.start(kmsdArguments: Self.arguments)
        let kms = try Self.onceClient(stack, timeout: Self.clientDefaultTimeout)
        let key = try await settingUp("CreateKey") { try await kms.createKey("worker") }
        let blob = try await settingUp("Encrypt") { try await kms.encrypt(key.keyID, [1]) }
        let pid = stack.kmsd.pid

        await stack.worker.crash()
        let outcomes = await concurrently(Self.workerRequests(kms, key: key.keyID, blob: blob))
        Self.expectDependencyFailures(outcomes, "kms-cryptod killed")
        try await stack.worker.start()
        let recovered = await untilSuccess("Encrypt after restart") { _ = try await kms.encrypt(key.keyID, [2]) }
        #expect(recovered.succeeded, "kmsd did not use the restarted kms-cryptod: \(recovered)")
        let decrypted = try await kms.decrypt(blob)
        #expect(Array(decrypted.plaintext) == [1])
        #expect(stack.kmsd.pid == pid, "kmsd was restarted")
        #expect(try await stack.client.verifyAuditLog().intact)
        await kms.close()
        await stack.stop()
    }

    @Test func workerStalledGarbledOrResetFailsRetryableAndRecovers() async throws {
        try await Self.withFaultStack(kmsdArguments: Self.arguments) { try await self.workerLinkFaults($0) }
    }

    func workerLinkFaults(_ faults: FaultStack) async throws {
        let stack = faults.stack
        let kms = try Self.onceClient(stack, timeout: Self.clientDefaultTimeout)
        let key = try await settingUp("CreateKey") { try await kms.createKey("worker link") }
        let blob = try await settingUp("Encrypt") { try await kms.encrypt(key.keyID, [1]) }
        let pids = (stack.kmsd.pid, stack.worker.process?.processIdentifier)

        for fault in [FaultProxy.Mode.stall, .garbage, .drop] {
            faults.worker.set(fault)
            let outcomes = await concurrently(Self.workerRequests(kms, key: key.keyID, blob: blob))
            Self.expectDependencyFailures(outcomes, "kms-cryptod \(fault)")
            faults.worker.set(.pass)
            let recovered = await untilSuccess("Encrypt after \(fault)") { _ = try await kms.encrypt(key.keyID, [2]) }
            #expect(recovered.succeeded, "no service again after kms-cryptod \(fault): \(recovered)")
        }
        // Slow but within the worker's deadline: answered.
        faults.worker.set(.slow(.milliseconds(150)))
        let slow = await concurrently(Self.workerRequests(kms, key: key.keyID, blob: blob))
        for outcome in slow {
            #expect(outcome.succeeded && outcome.elapsed < Self.workerBound, "kms-cryptod slow: \(outcome)")
        }
        faults.worker.set(.pass)
        #expect(
            stack.kmsd.pid == pids.0 && stack.worker.process?.processIdentifier == pids.1, "a process was restarted")
        let verified = try await stack.client.verifyAuditLog()
        #expect(verified.intact, "\(verified.reason)")
        await kms.close()
    }

    /// A request's waits together end by its deadline (`--request-timeout-seconds`), whatever each
    /// one's own bound: kms-cryptod stalled, with a worker timeout of a minute, still fails the
    /// requests in about three seconds, retryable. The bound asserted is half the worker timeout:
    /// it tells the request deadline from the worker's, not a timing.
    @Test func aRequestEndsByItsDeadlineWhateverItsWaitsAllow() async throws {
        try await Self.withFaultStack(
            kmsdArguments: Self.arguments + ["--worker-timeout-seconds", "60", "--request-timeout-seconds", "3"]
        ) { try await self.requestDeadline($0) }
    }

    func requestDeadline(_ faults: FaultStack) async throws {
        let stack = faults.stack
        let kms = try Self.onceClient(stack, timeout: .seconds(90))
        // Set up with a client that retries: on a loaded machine a short deadline may cut a
        // setup call, which is not what is tested.
        let setup = try stack.kmsd.client(credentials: stack.adminCredentials) { $0.maxAttempts = 5 }
        let key = try await setup.createKey("request deadline")
        let blob = try await setup.encrypt(key.keyID, [1])
        await setup.close()
        // The tested client's connection is authenticated before the fault (authentication
        // needs kms-cryptod too, and the client's handshake deadline is not what is tested).
        let warm = await untilSuccess("Encrypt before the stall") { _ = try await kms.encrypt(key.keyID, [0]) }
        #expect(warm.succeeded, "\(warm)")
        faults.worker.set(.stall)
        let outcomes = await concurrently(Self.workerRequests(kms, key: key.keyID, blob: blob))
        for outcome in outcomes {
            #expect(outcome.code == "DependencyTimeoutException" && outcome.error?.retryable == true, "\(outcome)")
            #expect(outcome.elapsed < .seconds(30), "the request waited out the worker's own timeout: \(outcome)")
        }
        faults.worker.set(.pass)
        let recovered = await untilSuccess("Encrypt after the stall") { _ = try await kms.encrypt(key.keyID, [2]) }
        #expect(recovered.succeeded, "\(recovered)")
        await kms.close()
    }

    /// Requests that each need kms-cryptod: an encryption, a data key and a decryption.
    static func workerRequests(_ kms: KMSClient, key: String, blob: Data) -> [(
        String, @Sendable () async throws -> Void
    )] {
        [
            ("Encrypt", { _ = try await kms.encrypt(key, [9]) }),
            ("GenerateDataKey", { _ = try await kms.generateDataKey(key, context: [:]) }),
            ("Decrypt", { _ = try await kms.decrypt(blob) }),
        ]
    }

    /// Every request failed as a dependency failure (retryable), in bounded time.
    static func expectDependencyFailures(_ outcomes: [Outcome], _ fault: String) {
        for outcome in outcomes {
            #expect(
                outcome.code == "DependencyTimeoutException" && outcome.error?.retryable == true, "\(fault): \(outcome)"
            )
            #expect(
                outcome.elapsed < Self.workerBound, "\(fault): the request did not finish in bounded time: \(outcome)")
        }
    }
}
