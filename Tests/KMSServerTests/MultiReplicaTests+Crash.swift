import Foundation
import KMSAuditChain
import KMSClient
import KMSDomain
import KMSProto
import KMSStore
import KMSTestSupport
import Logging
import PostgresNIO
import Synchronization
import Testing

/// (e): a replica SIGKILLed under a round-robin load. The checks are CrashConsistencyTests':
/// what callers were told succeeded is durable (keys exist, every acknowledged request has its
/// audit record, every chain verifies, every ciphertext decrypts), here judged by the replica
/// that lives on; and the load's failures are only requests that were on the killed replica
/// when it died.
extension MultiReplicaTests {
    /// What the round-robin load saw beyond `CrashLoad`: which replica answered, and each failure.
    final class Replies: Sendable {
        struct State {
            var answered = [0, 0]
            var answeredAfterKill = [0, 0]
            var failures: [(label: String, failure: RoundRobinClient.Failure)] = []
            var killed: ContinuousClock.Instant?
        }

        let state = Mutex(State())

        func withLock<T>(_ body: (inout State) -> T) -> T { self.state.withLock { body(&$0) } }
    }

    static func crashUnderLoad(_ pair: ReplicaPair, _ b: KMSClient) async throws {
        let base = try await b.createKey("load")
        let roundRobin = try pair.roundRobin()
        let load = CrashLoad()
        let replies = Replies()
        let tasks = ["rr-0", "rr-1", "keys"]
        let running = Task {
            await withTaskGroup(of: Void.self) { group in
                for task in tasks.prefix(2) {
                    group.addTask {
                        await Self.cryptoLoad(roundRobin, task: task, key: base.keyID, load: load, replies: replies)
                    }
                }
                group.addTask { await Self.keyLoad(roundRobin, load: load, replies: replies) }
            }
        }
        #expect(await load.waitForProgress(of: tasks, after: .now, limit: .seconds(30)), "the load did not start")
        try await Task.sleep(for: .milliseconds(1500))
        let before = replies.withLock { $0.answered }
        await pair.kmsds[0].crash()
        let killed = ContinuousClock.now
        replies.withLock { $0.killed = killed }
        Self.note("(e) kmsd A killed (SIGKILL) under load, after answering \(before[0]) requests (B \(before[1]))")
        #expect(
            await load.waitForProgress(of: tasks, after: killed, limit: .seconds(20)),
            "the round-robin clients did not carry on against B")
        try await Task.sleep(for: .seconds(1))
        load.stopped.store(true, ordering: .relaxed)
        await running.value
        await roundRobin.close()

        let seen = replies.withLock { $0 }
        let told = load.state.withLock { $0 }
        Self.note(
            "(e) after the kill B answered \(seen.answeredAfterKill[1]) requests, A \(seen.answeredAfterKill[0]); "
                + "carried over to the other replica: \(roundRobin.carriedOver.load(ordering: .relaxed)); "
                + "failed: \(seen.failures.map { "\($0.label): \($0.failure)" })")
        // A request may fail only if it was on A when A died: a CreateKey whose connection
        // dropped (it may have taken effect, so it is not sent again).
        let unexplained = seen.failures.filter { $0.failure.replica != 0 || $0.failure.attemptStarted > killed }
        #expect(unexplained.isEmpty, "failures not in flight on A at the kill: \(unexplained.map(\.label))")

        // Every acknowledged key exists.
        let keys = Set(
            try await CrashConsistencyTests.allPages { marker in
                let page = try await b.call(
                    KMSMethod.listKeys,
                    .with {
                        $0.limit = 100
                        if let marker { $0.marker = marker }
                    })
                return (page.keys.map(\.keyArn), page.truncated ? page.nextMarker : nil)
            })
        let missingKeys = told.keys.values.filter { !keys.contains($0) }
        #expect(missingKeys.isEmpty, "acknowledged CreateKey, no key: \(missingKeys.prefix(5))")

        // Every acknowledged request has its record of success, whichever replica answered it.
        let records = try await b.auditRecords().filter(\.errorCode.isEmpty)
        let contexts = Set(records.compactMap { $0.encryptionContext["n"] })
        let missingContexts = told.cryptoAcks.filter { !contexts.contains($0.n) }
        #expect(
            missingContexts.isEmpty,
            """
            \(missingContexts.count) of \(told.cryptoAcks.count) acknowledged crypto requests have no record: \
            \(missingContexts.prefix(5).map { "\($0.operation) \($0.n)" })
            """
        )
        // A change is answered once committed with its record in the outbox (kms_audit_pending),
        // and chained by its kmsd right after: a CreateKey that A answered, or that committed as
        // A died, unanswered, may have its record there still, to be chained when a kmsd of A's
        // chain starts again (or another adopts it): recorded all the same, counted, and printed.
        let pending = try await pair.database!.withClient { client in
            var pending: [(chain: String, entry: AuditEntry)] = []
            let rows = try await client.query(
                "SELECT chain_id, record FROM kms_audit_pending", logger: Logger(label: "test"))
            for try await (chain, record) in rows.decode((String, ByteBuffer).self) {
                pending += try AuditSegment.decode(record, chain: chain, firstSequence: 0).map { (chain, $0.entry) }
            }
            return pending
        }
        let created = Set(
            records.filter { $0.operation == "CreateKey" }.flatMap(\.keyArns)
                + pending.filter { $0.entry.operation == "CreateKey" }.flatMap(\.entry.keyARNs))
        let unrecorded = told.keys.values.filter { !created.contains($0) }
        #expect(unrecorded.isEmpty, "acknowledged CreateKey without its record: \(unrecorded.prefix(5))")

        // And no key without a record of its creation.
        let creations = records.filter { $0.operation == "CreateKey" }.count
        let pendingCount = pending.count
        #expect(
            keys.count <= creations + pendingCount,
            "\(keys.count) keys, \(creations) recorded creations and \(pendingCount) records pending")
        if !pending.isEmpty {
            let byChain = Dictionary(grouping: pending, by: \.chain).mapValues(\.count)
            Self.note("(e) records committed with their changes, not chained yet: \(byChain)")
        }

        let undecryptable = try await CrashConsistencyTests.undecryptable(told.blobs, clients: [b])
        #expect(
            undecryptable.isEmpty,
            "\(undecryptable.count) of \(told.blobs.count) ciphertexts do not decrypt: \(undecryptable.prefix(3))")

        let verified = try await b.verifyAuditLog()
        #expect(verified.intact, "\(verified.reason)")
        #expect(verified.chainsChecked >= 2, "both replicas' chains: \(verified.chainsChecked)")
        Self.note(
            "(e) \(told.cryptoAcks.count) crypto requests and \(told.keys.count) keys acknowledged, all recorded; "
                + "\(verified.chainsChecked) chains verified")
    }

    /// Encrypt, GenerateDataKey and Decrypt in turn through the round robin, each with a
    /// context naming it.
    static func cryptoLoad(
        _ client: RoundRobinClient, task: String, key: String, load: CrashLoad, replies: Replies
    ) async {
        var index = 0
        var mine: [CrashLoad.Blob] = []
        while !load.stopped.load(ordering: .relaxed) {
            index += 1
            let n = "\(task)-\(index)"
            let context = ["n": n]
            let started = ContinuousClock.now
            var failure: String?
            do {
                switch index % 3 {
                case 0 where !mine.isEmpty:
                    let blob = mine[index % mine.count]
                    let request = KMSDecryptRequest.with {
                        $0.ciphertextBlob = blob.blob
                        $0.encryptionContext = blob.context
                    }
                    let answer = try await client.call(KMSMethod.decrypt, request)
                    Self.answered(answer.replica, replies)
                    if answer.response.plaintext != blob.plaintext { failure = "WrongPlaintext" }
                case 1:
                    let request = KMSGenerateDataKeyRequest.with {
                        $0.keyID = key
                        $0.numberOfBytes = 32
                        $0.encryptionContext = context
                    }
                    let answer = try await client.call(KMSMethod.generateDataKey, request)
                    Self.answered(answer.replica, replies)
                    let blob = CrashLoad.Blob(
                        blob: answer.response.ciphertextBlob, context: context, plaintext: answer.response.plaintext)
                    mine.append(blob)
                    Self.acknowledged(n, "GenerateDataKey", blob, load)
                default:
                    let plaintext = Data("\(n) plaintext".utf8)
                    let request = KMSEncryptRequest.with {
                        $0.keyID = key
                        $0.plaintext = plaintext
                        $0.encryptionContext = context
                    }
                    let answer = try await client.call(KMSMethod.encrypt, request)
                    Self.answered(answer.replica, replies)
                    let blob = CrashLoad.Blob(
                        blob: answer.response.ciphertextBlob, context: context, plaintext: plaintext)
                    mine.append(blob)
                    Self.acknowledged(n, "Encrypt", blob, load)
                }
            } catch {
                failure = error.error.code
                replies.withLock { $0.failures.append((n, error)) }
            }
            load.finished(task, n, elapsed: ContinuousClock.now - started, failure: failure)
            try? await Task.sleep(for: .milliseconds(5))
        }
    }

    /// CreateKey through the round robin, then Encrypt under the new key (most often on the
    /// other replica, which must know the key at once).
    static func keyLoad(_ client: RoundRobinClient, load: CrashLoad, replies: Replies) async {
        var index = 0
        while !load.stopped.load(ordering: .relaxed) {
            index += 1
            let i = index
            let n = "keys-\(i)"
            var label = "CreateKey \(i)"
            let started = ContinuousClock.now
            var failure: String?
            do {
                let create = try await client.call(KMSMethod.createKey, .with { $0.description_p = "load \(i)" })
                Self.answered(create.replica, replies)
                let arn = create.response.keyMetadata.arn
                load.state.withLock { $0.keys[i] = arn }
                label = "Encrypt \(n)"
                let plaintext = Data(n.utf8)
                let request = KMSEncryptRequest.with {
                    $0.keyID = arn
                    $0.plaintext = plaintext
                    $0.encryptionContext = ["n": n]
                }
                let answer = try await client.call(KMSMethod.encrypt, request)
                Self.answered(answer.replica, replies)
                Self.acknowledged(
                    n, "Encrypt",
                    CrashLoad.Blob(blob: answer.response.ciphertextBlob, context: ["n": n], plaintext: plaintext),
                    load)
            } catch {
                failure = error.error.code
                replies.withLock { $0.failures.append((label, error)) }
            }
            load.finished("keys", label, elapsed: ContinuousClock.now - started, failure: failure)
            try? await Task.sleep(for: .milliseconds(20))
        }
    }

    static func answered(_ replica: Int, _ replies: Replies) {
        replies.withLock { replies in
            replies.answered[replica] += 1
            if replies.killed != nil { replies.answeredAfterKill[replica] += 1 }
        }
    }

    static func acknowledged(_ n: String, _ operation: String, _ blob: CrashLoad.Blob, _ load: CrashLoad) {
        load.state.withLock { state in
            state.cryptoAcks.append((n, operation, .now))
            state.blobs.append(blob)
        }
    }
}
