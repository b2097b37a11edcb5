import Foundation
import KMSClient
import KMSProto
import KMSTestSupport
import PostgresNIO
import Synchronization
import Testing

/// kmsd's probes on its metrics listener (GET /healthz, GET /readyz) and its graceful shutdown
/// on SIGTERM (issue 18 §1): not ready first, no new connections after the delay, every
/// request in flight answered, then the buffers flushed and exit 0.
@Suite struct HealthTests {
    static func encryptBody(_ keyID: String, _ n: Int) throws -> Data {
        try JSONSerialization.data(withJSONObject: [
            "KeyId": keyID, "Plaintext": Data([UInt8(n)]).base64EncodedString(),
            "EncryptionContext": ["n": "json-\(n)"],
        ])
    }

    @Test func readinessNamesTheWorkerOrTheDatabaseWhileEitherIsDown() async throws {
        let port = try await freeLoopbackPort()
        let faults = try await FaultStack.start(kmsdArguments: ["--metrics-listen", "127.0.0.1:\(port)"])
        let stack = faults.stack
        let alive = try await httpGet("/healthz", port: port)
        #expect(alive.status == 200 && alive.body == "ok\n")
        let ready = await pollHTTP("/readyz", port: port) { status, _ in status == 200 }
        #expect(ready.status == 200 && ready.body == "ok\n", "\(ready)")

        // kms-cryptod stopped: not ready, naming the worker; alive all the same.
        await stack.worker.crash()
        // Polled until the answer names the worker alone: on a loaded machine one round may also
        // find the database slower than the probe's 0.8 s bound (seen once in a full run).
        let noWorker = await pollHTTP("/readyz", port: port) { status, body in
            status == 503 && body.contains("worker:") && !body.contains("database")
        }
        #expect(noWorker.status == 503 && noWorker.body.contains("worker:"), "\(noWorker)")
        #expect(!noWorker.body.contains("database"), "\(noWorker)")
        #expect(try await httpGet("/healthz", port: port).status == 200)
        try await stack.worker.start()
        let workerBack = await pollHTTP("/readyz", port: port) { status, _ in status == 200 }
        #expect(workerBack.status == 200, "\(workerBack)")

        // PostgreSQL unreachable: not ready, naming the database.
        faults.database.set(.drop)
        let noDatabase = await pollHTTP("/readyz", port: port) { status, _ in status == 503 }
        #expect(noDatabase.status == 503 && noDatabase.body.contains("database:"), "\(noDatabase)")
        #expect(try await httpGet("/healthz", port: port).status == 200)
        faults.database.set(.pass)
        let databaseBack = await pollHTTP("/readyz", port: port) { status, _ in status == 200 }
        #expect(databaseBack.status == 200, "\(databaseBack)")

        // The metrics are still there; nothing else is.
        #expect(try await httpGet("/metrics", port: port).body.contains("kms_"))
        #expect(try await httpGet("/keys", port: port).status == 404)
        await faults.stop()
    }

    /// Migrations may wait for another kmsd's (their lock) or for the database: meanwhile kmsd
    /// is alive, not ready.
    @Test func whileStartingKMSDIsAliveAndNotReady() async throws {
        let database = try await TestDatabase.create()
        let worker = try await WorkerProcess()
        try await worker.start()
        let (host, databasePort) = database.hostAndPort
        let proxy = try await FaultProxy.tcp(to: host, port: databasePort)
        proxy.set(.stall)
        // Chosen after the proxy listens: a port released by freeLoopbackPort can be the next
        // bind(0)'s, and kmsd's metrics listener then found the proxy on it (seen once).
        let port = try await freeLoopbackPort()
        let kmsd = KMSDProcess(
            databaseURL: database.url(port: try #require(proxy.port)), workerSocket: worker.socketPath,
            directory: worker.directory, extraArguments: ["--metrics-listen", "127.0.0.1:\(port)"])
        let starting = Task { try await kmsd.start() }
        let alive = await pollHTTP("/healthz", port: port) { status, _ in status == 200 }
        #expect(alive.status == 200 && alive.body == "ok\n", "\(alive)")
        let notReady = try await httpGet("/readyz", port: port)
        #expect(notReady.status == 503 && notReady.body.contains("startup:"), "\(notReady)")
        proxy.set(.pass)
        try await starting.value
        let ready = await pollHTTP("/readyz", port: port) { status, _ in status == 200 }
        #expect(ready.status == 200, "\(ready)")
        await kmsd.stop()
        await proxy.close()
        await worker.stop()
        await database.drop()
    }

    /// An audit log that cannot be written (its chain's head row locked: the database answers
    /// everything else) makes kmsd not ready, naming only the audit log, until it can again.
    @Test func anAuditLogThatCannotBeWrittenMakesKMSDNotReady() async throws {
        let port = try await freeLoopbackPort()
        let stack = try await KMSStack.start(kmsdArguments: [
            "--metrics-listen", "127.0.0.1:\(port)", "--audit-chain", "held", "--audit-timeout-seconds", "1",
        ])
        let key = try await stack.client.createKey()
        #expect(await pollHTTP("/readyz", port: port) { status, _ in status == 200 }.status == 200)
        let lock = try await HeldLock.take(
            stack.database, "SELECT 1 FROM kms_audit_chains WHERE chain_id = 'held' FOR UPDATE")
        let client = try stack.kmsd.client(credentials: stack.adminCredentials) { $0.maxAttempts = 1 }
        // Its record cannot be committed: the request fails, and the log is in an outage.
        await #expect(throws: (any Error).self) { try await client.encrypt(key.keyID, [1]) }
        let notReady = await pollHTTP("/readyz", port: port) { status, _ in status == 503 }
        #expect(notReady.status == 503 && notReady.body.contains("audit:"), "\(notReady)")
        #expect(!notReady.body.contains("database:") && !notReady.body.contains("worker:"), "\(notReady)")
        try await lock.release()
        let ready = await pollHTTP("/readyz", port: port) { status, _ in status == 200 }
        #expect(ready.status == 200, "\(ready)")
        _ = try await client.encrypt(key.keyID, [2])
        await client.close()
        await stack.stop()
    }

    /// Migrations missing from the schema (rolled back behind kmsd's back) make it not ready.
    @Test func aMissingMigrationMakesKMSDNotReady() async throws {
        let port = try await freeLoopbackPort()
        let stack = try await KMSStack.start(kmsdArguments: ["--metrics-listen", "127.0.0.1:\(port)"])
        #expect(await pollHTTP("/readyz", port: port) { status, _ in status == 200 }.status == 200)
        let removed = try await stack.database.withClient { client in
            var version = 0
            let rows = try await client.query(
                """
                DELETE FROM kms_schema_migrations WHERE version = (SELECT max(version) FROM kms_schema_migrations)
                RETURNING version
                """)
            for try await value in rows.decode(Int.self) { version = value }
            return version
        }
        let notReady = await pollHTTP("/readyz", port: port) { status, _ in status == 503 }
        #expect(notReady.status == 503 && notReady.body.contains("migrations:"), "\(notReady)")
        try await stack.database.withClient { client in
            try await client.query("INSERT INTO kms_schema_migrations (version, name) VALUES (\(removed), 'restored')")
        }
        #expect(await pollHTTP("/readyz", port: port) { status, _ in status == 200 }.status == 200)
        await stack.stop()
    }

    @Test func sigtermAnswersEveryRequestInFlightThenExitsZero() async throws {
        let port = try await freeLoopbackPort()
        let delay = Duration.seconds(2)
        let faults = try await FaultStack.start(kmsdArguments: [
            "--metrics-listen", "127.0.0.1:\(port)", "--aws-json-listen", "127.0.0.1:0",
            "--shutdown-delay-seconds", "2", "--shutdown-grace-seconds", "60", "--worker-timeout-seconds", "60",
        ])
        let stack = faults.stack
        let kmsd = stack.kmsd
        let key = try await stack.client.createKey()
        // One connection, connected and authenticated before the worker stalls (authentication
        // needs it), and no retries: each request's own answer is what is checked.
        let client = try kmsd.client(credentials: stack.adminCredentials) {
            $0.connections = 1
            $0.maxAttempts = 1
            $0.timeout = .seconds(120)
        }
        _ = try await client.encrypt(key.keyID, [0])
        let json = AWSJSONTestClient(endpoint: try #require(kmsd.awsJSONEndpoint), credentials: stack.adminCredentials)
        // Its SigV4 signing key is cached from now on: the requests below need no worker to get in.
        #expect(try await json.call("Encrypt", body: try Self.encryptBody(key.keyID, 0)).status == 200)
        #expect(await pollHTTP("/readyz", port: port) { status, _ in status == 200 }.status == 200)

        // The requests are held at the worker: in flight in kmsd until the worker answers.
        faults.worker.set(.stall)
        let binary = (1...6).map { n in
            Task { try await client.encrypt(key.keyID, [UInt8(n)], context: ["n": "binary-\(n)"]) }
        }
        let overJSON = (1...2).map { n in
            Task { try await json.call("Encrypt", body: try Self.encryptBody(key.keyID, n), keepAlive: true) }
        }
        let signalled = ContinuousClock.now
        kmsd.signal(SIGTERM)

        let notReady = await pollHTTP("/readyz", port: port) { status, _ in status == 503 }
        #expect(notReady.status == 503 && notReady.body.contains("shutdown:"), "\(notReady)")
        // New connections are refused once the delay is over, not before.
        let endpoint = splitEndpoint(kmsd.endpoint)
        let jsonEndpoint = splitEndpoint(try #require(kmsd.awsJSONEndpoint))
        let refuseBy = ContinuousClock.now + .seconds(60)
        while await acceptsConnections(host: endpoint.host, port: endpoint.port), ContinuousClock.now < refuseBy {
            try await Task.sleep(for: .milliseconds(20))
        }
        let refusedAfter = ContinuousClock.now - signalled
        #expect(!(await acceptsConnections(host: endpoint.host, port: endpoint.port)))
        #expect(refusedAfter >= delay, "refused \(refusedAfter) after SIGTERM, before the delay of \(delay)")
        #expect(!(await acceptsConnections(host: jsonEndpoint.host, port: jsonEndpoint.port)))
        // Still draining (the requests wait for the worker): still not ready, still running.
        #expect(try await httpGet("/readyz", port: port).status == 503)
        #expect(kmsd.pid != nil)

        faults.worker.set(.pass)
        for (index, request) in binary.enumerated() {
            let outcome = await timed("binary-\(index + 1)") { _ = try await request.value }
            #expect(outcome.succeeded, "\(outcome)")
        }
        var jsonRequestIDs: [String] = []
        for request in overJSON {
            let reply = try await request.value
            #expect(reply.status == 200, "\(reply.code ?? "") \(reply.message)")
            // Answered during the drain: the keep-alive connection is told it closes.
            #expect(reply.closesConnection)
            if let id = reply.requestID { jsonRequestIDs.append(id) }
        }
        #expect(await kmsd.waitForExit(within: .seconds(60)) == 0)

        // Every answered request has its audit record.
        try await kmsd.restart()
        let admin = try kmsd.client(credentials: stack.adminCredentials)
        let records = try await admin.auditRecords()
        let contexts = Set(records.filter(\.errorCode.isEmpty).compactMap { $0.encryptionContext["n"] })
        for n in 1...6 { #expect(contexts.contains("binary-\(n)"), "no record of binary-\(n)") }
        let ids = Set(records.map(\.requestID))
        #expect(jsonRequestIDs.count == 2)
        for id in jsonRequestIDs { #expect(ids.contains(id), "no record of \(id)") }
        #expect(try await admin.verifyAuditLog().intact)
        await admin.close()
        await client.close()
        await faults.stop()
    }

    /// A request that outlasts the grace period (a worker that never answers) is cut off with
    /// its connection, and kmsd still exits 0.
    @Test func theGracePeriodBoundsTheShutdown() async throws {
        let faults = try await FaultStack.start(kmsdArguments: [
            "--shutdown-delay-seconds", "1", "--shutdown-grace-seconds", "1", "--worker-timeout-seconds", "600",
            "--request-timeout-seconds", "600",
        ])
        let stack = faults.stack
        let key = try await stack.client.createKey()
        let client = try stack.kmsd.client(credentials: stack.adminCredentials) {
            $0.connections = 1
            $0.maxAttempts = 1
            $0.timeout = .seconds(600)
        }
        _ = try await client.encrypt(key.keyID, [0])
        // Deaf rather than stalled: the request reaches the worker (so the proxy sees it come)
        // and its answer never comes back.
        faults.worker.set(.deaf)
        let reads = faults.worker.readsFromClients
        let request = Task { await timed("held") { _ = try await client.encrypt(key.keyID, [1]) } }
        // SIGTERM only once the request is held at the worker: one still on its way to kmsd
        // would meet a connection closed as idle and fail to reconnect (a different outcome).
        // Other traffic to the worker (an audit checkpoint) could end this wait early; the
        // second of shutdown delay covers that.
        let heldBy = ContinuousClock.now + .seconds(60)
        while faults.worker.readsFromClients == reads, ContinuousClock.now < heldBy {
            try await Task.sleep(for: .milliseconds(5))
        }
        #expect(faults.worker.readsFromClients > reads)
        stack.kmsd.signal(SIGTERM)
        #expect(await stack.kmsd.waitForExit(within: .seconds(120)) == 0)
        let outcome = await request.value
        #expect(outcome.code == "ConnectionClosedException", "\(outcome)")
        await client.close()
        await faults.stop()
    }

    /// In a pod both containers get SIGTERM at once: kms-cryptod keeps serving kmsd's open
    /// connections, so kmsd's last requests and its last audit checkpoint still reach it.
    @Test func kmsdAndTheWorkerStoppedTogetherLoseNothing() async throws {
        let stack = try await KMSStack.start(workerArguments: ["--shutdown-grace-seconds", "60"])
        let key = try await stack.client.createKey()
        let client = try stack.kmsd.client(credentials: stack.adminCredentials) {
            $0.connections = 2
            $0.maxAttempts = 1
        }
        let told = Told()
        let load = Task {
            await withTaskGroup(of: Void.self) { group in
                for lane in 0..<4 {
                    group.addTask {
                        var n = 0
                        while true {
                            n += 1
                            let label = "\(lane)-\(n)"
                            do {
                                _ = try await client.encrypt(key.keyID, [1], context: ["n": label])
                                told.answered(label)
                            } catch {
                                told.failed(error)
                                return
                            }
                        }
                    }
                }
            }
        }
        let startBy = ContinuousClock.now + .seconds(60)
        while told.count < 20, ContinuousClock.now < startBy { try await Task.sleep(for: .milliseconds(10)) }
        // The worker first: the order in which a pod's containers get the signal is not fixed.
        stack.worker.signal(SIGTERM)
        stack.kmsd.signal(SIGTERM)
        await load.value
        #expect(await stack.kmsd.waitForExit(within: .seconds(60)) == 0)
        #expect(await stack.worker.waitForExit(within: .seconds(30)) == 0)
        // The requests cut off by the shutdown failed as a client retries elsewhere; none for
        // want of the worker.
        for error in told.errors {
            #expect(error.code != "DependencyTimeoutException", "\(error)")
            #expect(error.retryable, "\(error)")
        }

        try await stack.worker.start()
        try await stack.kmsd.restart()
        let admin = try stack.kmsd.client(credentials: stack.adminCredentials)
        let records = try await admin.auditRecords()
        let contexts = Set(records.filter(\.errorCode.isEmpty).compactMap { $0.encryptionContext["n"] })
        let missing = told.labels.filter { !contexts.contains($0) }
        #expect(missing.isEmpty, "\(missing.count) of \(told.count) answered requests have no record")
        #expect(try await admin.verifyAuditLog().intact)
        await admin.close()
        await client.close()
        await stack.stop()
    }
}

/// What the load of `kmsdAndTheWorkerStoppedTogetherLoseNothing` was told.
private final class Told: Sendable {
    private let state = Mutex<(labels: [String], errors: [KMSClientError])>(([], []))

    func answered(_ label: String) { self.state.withLock { $0.labels.append(label) } }
    func failed(_ error: any Error) {
        let error =
            (error as? KMSClientError)
            ?? KMSClientError(code: "\(type(of: error))", message: "\(error)", retryable: false)
        self.state.withLock { $0.errors.append(error) }
    }
    var count: Int { self.state.withLock { $0.labels.count } }
    var labels: [String] { self.state.withLock { $0.labels } }
    var errors: [KMSClientError] { self.state.withLock { $0.errors } }
}
