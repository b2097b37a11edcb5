import Foundation
import KMSClient
import KMSProto
import KMSRPC
import KMSTestSupport
import Testing

/// Crash consistency under load (issue 16 §2), short form: clients of the test's own run
/// crypto and mutating requests without pause while, in turn, kmsd and kms-cryptod are
/// SIGKILLed and restarted and PostgreSQL is stopped with `pg_ctl stop -m immediate` and
/// started (a cluster of this test's own). Nothing acknowledged may be lost, and the clients
/// must carry on by themselves. scripts/faults runs the long form with kms-bench.
@Suite struct CrashConsistencyTests {
    static let admin = "arn:aws:iam::111122223333:user/admin"
    /// Longer than any request may take: the client's attempts with their backoff, or for
    /// the AWS JSON task, a request that has hung.
    static let deadline = Duration.seconds(40)

    @Test func nothingAcknowledgedIsLostWhenEachProcessCrashes() async throws {
        let cluster = try await PostgresCluster.create()
        Self.note("PostgreSQL cluster of its own on port \(cluster.port)")
        do {
            try await Self.crashUnderLoad(on: cluster)
        } catch {
            await cluster.destroy()
            throw error
        }
        await cluster.destroy()
    }

    static func crashUnderLoad(on cluster: PostgresCluster) async throws {
        let database = try await TestDatabase.create(adminURL: cluster.adminURL)
        let worker = try await WorkerProcess()
        try await worker.start()
        let adminCredentials = try await KMSDProcess.bootstrap(
            databaseURL: database.url, workerSocket: worker.socketPath)
        let kmsd = KMSDProcess(
            databaseURL: database.url, workerSocket: worker.socketPath, directory: worker.directory,
            extraArguments: [
                "--aws-json-listen", "127.0.0.1:0", "--audit-timeout-seconds", "2", "--usage-flush-seconds", "1",
            ]
        )
        try await kmsd.start()
        let setup = try kmsd.client(credentials: adminCredentials)
        Self.note("kmsd at \(kmsd.endpoint), AWS JSON at \(kmsd.awsJSONEndpoint ?? "-")")
        let base = try await setup.createKey("crash base")
        let json = AWSJSONTestClient(endpoint: try #require(kmsd.awsJSONEndpoint), credentials: adminCredentials)
        // The clients the load runs on, kept across every crash: they must recover by themselves.
        let clients = try (0..<2).map { _ in try kmsd.client(credentials: adminCredentials) }

        let load = CrashLoad()
        let tasks = ["binary-0", "binary-1", "json"]
        let running = Task {
            await withTaskGroup(of: Void.self) { group in
                for (index, client) in clients.enumerated() {
                    group.addTask {
                        await Self.cryptoLoad(client, task: "binary-\(index)", key: base.keyID, load: load)
                    }
                }
                group.addTask { await Self.mutatingLoad(json, base: base.keyID, load: load) }
            }
        }
        #expect(await load.waitForProgress(of: tasks, after: .now, limit: .seconds(30)), "the load did not start")
        try await Task.sleep(for: .seconds(1))

        Self.note("load running: \(load.progress)")
        // kmsd: SIGKILL, and started again on the same ports.
        await kmsd.crash()
        let kmsdCrashed = ContinuousClock.now
        try await Task.sleep(for: .milliseconds(300))
        try await kmsd.restart()
        #expect(
            await load.waitForProgress(of: tasks, after: .now, limit: .seconds(30)),
            "the clients did not recover from kmsd's crash")
        Self.note("kmsd crashed and restarted: \(load.progress)")
        // kms-cryptod: SIGKILL, and started again on the same socket.
        await worker.crash()
        try await Task.sleep(for: .milliseconds(300))
        try await worker.start()
        #expect(
            await load.waitForProgress(of: tasks, after: .now, limit: .seconds(30)),
            "the clients did not recover from kms-cryptod's crash")
        Self.note("kms-cryptod crashed and restarted: \(load.progress)")
        // PostgreSQL: stopped as by a crash, and started again.
        try await cluster.stop(immediate: true)
        try await Task.sleep(for: .seconds(1))
        try await cluster.start()
        #expect(
            await load.waitForProgress(of: tasks, after: .now, limit: .seconds(40)),
            "the clients did not recover from PostgreSQL's crash")
        Self.note("PostgreSQL crashed and restarted: \(load.progress)")
        load.stopped.store(true, ordering: .relaxed)
        await running.value

        // The checks judge what is durable, not the state of the kmsd that went through the
        // crashes: they run on a kmsd started afresh, once the last counts were written.
        try await Task.sleep(for: .seconds(2))
        await kmsd.crash()
        try await kmsd.restart()
        let told = load.state.withLock { $0 }
        let admin = try kmsd.client(credentials: adminCredentials)
        #expect(told.hung.isEmpty, "requests that never ended: \(told.hung.prefix(5))")
        #expect(told.slowest < Self.deadline, "slowest request: \(told.slowestLabel) \(told.slowest)")

        // Usage: what callers were told succeeded, less at most the counts kmsd held in
        // memory when it was killed (--usage-flush-seconds plus a second).
        let operations: Set = ["Encrypt", "GenerateDataKey", "Decrypt"]
        let usage = try await admin.call(AdminMethod.getUsage, AdminGetUsageRequest())
        let counted = usage.requests.filter { operations.contains($0.operation) && !$0.keyArn.isEmpty }.reduce(0) {
            $0 + $1.requests - $1.failed
        }
        let acknowledged = told.cryptoAcks.count + told.requestIDs.values.filter { $0.hasPrefix("Encrypt") }.count
        let inWindow = told.cryptoAcks.filter { $0.at <= kmsdCrashed && kmsdCrashed - $0.at < .seconds(2) }.count
        #expect(
            counted >= Int64(acknowledged - inWindow),
            """
            usage counts \(counted) successes; callers were told of \(acknowledged), \(inWindow) of them just \
            before kmsd's crash
            """
        )

        // Every acknowledged request has its record.
        let records = try await admin.auditRecords()
        let ids = Set(records.map(\.requestID))
        let recordedContexts = Set(records.filter(\.errorCode.isEmpty).compactMap { $0.encryptionContext["n"] })
        let missingIDs = told.requestIDs.filter { !ids.contains($0.key) }
        #expect(
            missingIDs.isEmpty,
            """
            \(missingIDs.count) of \(told.requestIDs.count) acknowledged AWS JSON requests have no record: \
            \(missingIDs.prefix(5))
            """
        )
        let missingContexts = told.cryptoAcks.filter { !recordedContexts.contains($0.n) }
        #expect(
            missingContexts.isEmpty,
            """
            \(missingContexts.count) of \(told.cryptoAcks.count) acknowledged crypto requests have no record: \
            \(missingContexts.prefix(5).map { "\($0.operation) \($0.n)" })
            """
        )

        // Every acknowledged change exists; none exists without a record of its success.
        try await Self.checkChanges(admin, base: base, told: told, records: records)

        // Every ciphertext returned decrypts to what was sent.
        let undecryptable = try await Self.undecryptable(told.blobs, clients: clients)
        #expect(
            undecryptable.isEmpty,
            """
            \(undecryptable.count) of \(told.blobs.count) returned ciphertexts do not decrypt: \
            \(undecryptable.prefix(3))
            """
        )

        let verified = try await admin.verifyAuditLog()
        #expect(verified.intact, "\(verified.reason)")
        #expect(verified.chainsChecked >= 1)

        for client in clients { await client.close() }
        await admin.close()
        await setup.close()
        await kmsd.stop()
        await worker.stop()
        await database.drop()
    }

    /// One line of progress on standard error: where a slow or stuck run is.
    static func note(_ text: String) {
        FileHandle.standardError.write(Data("crash test: \(text)\n".utf8))
    }

    /// Encrypt, GenerateDataKey and Decrypt in turn, each with a context naming it.
    static func cryptoLoad(_ client: KMSClient, task: String, key: String, load: CrashLoad) async {
        var index = 0
        var mine: [CrashLoad.Blob] = []
        while !load.stopped.load(ordering: .relaxed) {
            index += 1
            let n = "\(task)-\(index)"
            let context = ["n": n]
            let plaintext = Data("\(n) plaintext".utf8)
            let started = ContinuousClock.now
            var failure: String?
            var operation = ""
            do {
                switch index % 3 {
                case 0 where !mine.isEmpty:
                    operation = "Decrypt"
                    let blob = mine[index % mine.count]
                    let answer = try await client.decrypt(blob.blob, context: blob.context)
                    if answer.plaintext != blob.plaintext { failure = "WrongPlaintext" }
                    // The record of a Decrypt holds the blob's context, which names the blob's
                    // Encrypt; count this one by its own request instead.
                    operation = ""
                case 1:
                    operation = "GenerateDataKey"
                    let answer = try await client.generateDataKey(key, context: context)
                    mine.append(
                        CrashLoad.Blob(blob: answer.ciphertextBlob, context: context, plaintext: answer.plaintext))
                default:
                    operation = "Encrypt"
                    let blob = try await client.encrypt(key, Array(plaintext), context: context)
                    mine.append(CrashLoad.Blob(blob: blob, context: context, plaintext: plaintext))
                }
            } catch let error as KMSClientError {
                failure = error.code
            } catch {
                failure = "\(error)"
            }
            let elapsed = ContinuousClock.now - started
            load.finished(task, n, elapsed: elapsed, failure: failure)
            if failure == nil, !operation.isEmpty {
                load.state.withLock { state in
                    state.cryptoAcks.append((n, operation, .now))
                    state.blobs.append(mine[mine.count - 1])
                }
            }
            try? await Task.sleep(for: .milliseconds(5))
        }
    }

    /// CreateKey, CreateAlias, CreateGrant, PutKeyPolicy, TagResource and Encrypt in turn over
    /// the AWS JSON API, which names each request's id (x-amzn-RequestId).
    static func mutatingLoad(_ json: AWSJSONTestClient, base: String, load: CrashLoad) async {
        var index = 0
        while !load.stopped.load(ordering: .relaxed) {
            index += 1
            let i = index
            let created = load.state.withLock { $0.keys[i] }
            let plaintext = Data("json \(i)".utf8)
            let steps: [(String, [String: Any])] = [
                ("CreateKey", ["Description": "crash-\(i)"]),
                ("CreateAlias", ["AliasName": "alias/crash-\(i)", "TargetKeyId": created ?? base]),
                (
                    "CreateGrant",
                    ["KeyId": base, "GranteePrincipal": Self.admin, "Operations": ["Decrypt"], "Name": "crash-\(i)"]
                ),
                ("PutKeyPolicy", ["KeyId": base, "PolicyName": "default", "Policy": Self.policy(i)]),
                ("TagResource", ["KeyId": base, "Tags": [["TagKey": "t\(i % 10)", "TagValue": "\(i)"]]]),
                (
                    "Encrypt",
                    ["KeyId": base, "Plaintext": plaintext.base64EncodedString(), "EncryptionContext": ["j": "\(i)"]]
                ),
            ]
            for (operation, body) in steps {
                let label = "\(operation) \(i)"
                let started = ContinuousClock.now
                var failure: String?
                do {
                    let answer = try await json.json(operation, body, limit: Self.deadline)
                    if let code = answer.code {
                        failure = code
                    } else {
                        load.state.withLock { state in
                            if let id = answer.requestID { state.requestIDs[id] = label }
                            switch operation {
                            case "CreateKey": state.keys[i] = answer.fields["KeyMetadata.KeyId"]
                            case "CreateAlias": state.aliases.insert(i)
                            case "CreateGrant": state.grants[i] = answer.fields["GrantId"]
                            case "PutKeyPolicy": state.policies.append(i)
                            case "TagResource": state.tags.append(i)
                            default:
                                if let text = answer.fields["CiphertextBlob"], let blob = Data(base64Encoded: text) {
                                    state.blobs.append(
                                        CrashLoad.Blob(blob: blob, context: ["j": "\(i)"], plaintext: plaintext))
                                }
                            }
                        }
                    }
                } catch let error as DeadlineExceeded {
                    failure = "Hung"
                    load.state.withLock { $0.hung.append("\(label): \(error)") }
                } catch {
                    failure = "ConnectionFailed"
                }
                load.finished("json", label, elapsed: ContinuousClock.now - started, failure: failure)
                if failure != nil { try? await Task.sleep(for: .milliseconds(100)) }
            }
            try? await Task.sleep(for: .milliseconds(10))
        }
    }

    /// A key policy that keeps the account root's delegation, with a statement id naming `i`.
    static func policy(_ i: Int) -> String {
        #"{"Version":"2012-10-17","Statement":[{"Sid":"crash\#(i)","Effect":"Allow","#
            + #""Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"}]}"#
    }

    /// Acknowledged keys, aliases, grants, the policy and tags exist; and there are no more of
    /// each than records of a successful request that made one.
    static func checkChanges(
        _ admin: KMSClient, base: KMSKeyMetadata, told: CrashLoad.State, records: [AdminAuditRecord]
    ) async throws {
        func successes(_ operation: String) -> Int {
            records.filter { $0.operation == operation && $0.errorCode.isEmpty }.count
        }

        let keys = try await Self.allPages { marker in
            let page = try await admin.call(
                KMSMethod.listKeys,
                .with {
                    $0.limit = 100
                    if let marker { $0.marker = marker }
                })
            return (page.keys.map(\.keyID), page.truncated ? page.nextMarker : nil)
        }
        let missingKeys = told.keys.values.filter { !keys.contains($0) }
        #expect(missingKeys.isEmpty, "acknowledged CreateKey, no key: \(missingKeys.prefix(5))")
        #expect(
            keys.count <= successes("CreateKey"), "\(keys.count) keys, \(successes("CreateKey")) recorded creations")

        let aliases = Set(
            try await Self.allPages { marker in
                let page = try await admin.call(
                    KMSMethod.listAliases,
                    .with {
                        $0.limit = 100
                        if let marker { $0.marker = marker }
                    })
                return (page.aliases.map(\.aliasName), page.truncated ? page.nextMarker : nil)
            }.filter { $0.hasPrefix("alias/crash-") })
        let missingAliases = told.aliases.filter { !aliases.contains("alias/crash-\($0)") }
        #expect(missingAliases.isEmpty, "acknowledged CreateAlias, no alias: \(missingAliases.sorted().prefix(5))")
        #expect(
            aliases.count <= successes("CreateAlias"),
            "\(aliases.count) aliases, \(successes("CreateAlias")) recorded creations")

        let grantIDs = Set(
            try await Self.allPages { marker in
                let page = try await admin.call(
                    KMSMethod.listGrants,
                    .with {
                        $0.keyID = base.keyID
                        $0.limit = 100
                        if let marker { $0.marker = marker }
                    })
                return (page.grants.map(\.grantID), page.truncated ? page.nextMarker : nil)
            })
        let missingGrants = told.grants.filter { !grantIDs.contains($0.value) }
        #expect(missingGrants.isEmpty, "acknowledged CreateGrant, no grant: \(missingGrants.keys.sorted().prefix(5))")
        #expect(
            grantIDs.count <= successes("CreateGrant"),
            "\(grantIDs.count) grants, \(successes("CreateGrant")) recorded creations")

        // The policy in force is the last acknowledged one or a later one, and a later one was
        // recorded as a success.
        var policyRequest = KMSGetKeyPolicyRequest()
        policyRequest.keyID = base.keyID
        let policy = try await admin.call(KMSMethod.getKeyPolicy, policyRequest).policy
        let current = policy.firstRange(of: #/"Sid"\s*:\s*"crash(\d+)"/#).flatMap { Int(policy[$0].filter(\.isNumber)) }
        if let last = told.policies.last {
            #expect(
                (current ?? 0) >= last,
                """
                the policy of PutKeyPolicy \(last) was acknowledged; in force: \
                \(current.map(String.init) ?? "the default")
                """
            )
        }
        if let current, !told.policies.contains(current) {
            #expect(
                successes("PutKeyPolicy") > told.policies.count,
                "PutKeyPolicy \(current) was refused, yet is in force without a record")
        }

        var tagRequest = KMSListResourceTagsRequest()
        tagRequest.keyID = base.keyID
        let tags = try await admin.call(KMSMethod.listResourceTags, tagRequest).tags
        let values = Dictionary(tags.map { ($0.tagKey, Int($0.tagValue) ?? 0) }, uniquingKeysWith: max)
        let lostTags = Dictionary(grouping: told.tags, by: { $0 % 10 }).compactMap { slot, acknowledged -> Int? in
            (values["t\(slot)"] ?? 0) >= acknowledged.max()! ? nil : acknowledged.max()!
        }
        #expect(lostTags.isEmpty, "acknowledged TagResource, tag not in force: \(lostTags.sorted())")
    }

    /// Every item of a listing, following its markers.
    static func allPages<T>(_ page: (String?) async throws -> ([T], String?)) async throws -> [T] {
        var items: [T] = []
        var marker: String?
        repeat {
            let (more, next) = try await page(marker)
            items += more
            marker = next
        } while marker != nil
        return items
    }

    /// The blobs that do not decrypt to their plaintext, decrypted by a few tasks at once.
    static func undecryptable(_ blobs: [CrashLoad.Blob], clients: [KMSClient]) async throws -> [String] {
        await withTaskGroup(of: [String].self) { group in
            for (slot, client) in clients.enumerated() {
                group.addTask {
                    var failed: [String] = []
                    for blob in stride(from: slot, to: blobs.count, by: clients.count).map({ blobs[$0] }) {
                        do {
                            let answer = try await client.decrypt(blob.blob, context: blob.context)
                            if answer.plaintext != blob.plaintext { failed.append("\(blob.context): wrong plaintext") }
                        } catch {
                            failed.append("\(blob.context): \(error)")
                        }
                    }
                    return failed
                }
            }
            var failed: [String] = []
            for await part in group { failed += part }
            return failed
        }
    }
}
